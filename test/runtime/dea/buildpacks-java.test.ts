// The java buildpack on a real DEA: a jar as cf pushes it (its contents), a jar in the app, a Spring
// Boot jar (its launcher), each staged in a container and run with the machine's java, JAVA_OPTS
// sized from the memory limit at each start; and the failures: a Maven project without a jar, a
// Java version the machine lacks, java missing. The app is compiled once per run
// (test/fixtures/apps/java-hello/build.ts).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { untar } from '../../helpers/archives.js';
import { javaHello, type JavaHello } from '../../fixtures/apps/java-hello/build.js';
import { get, newGuid, packageOf, stageApp, startHarness, startInstance, type Harness } from './helpers.js';

const JAVA_BUILDPACK = fileURLToPath(new URL('../../../templates/buildpacks/java/', import.meta.url));
const CALCULATOR = path.join(JAVA_BUILDPACK, 'lib', 'memory-calculator');

/** What the memory calculator prints for a limit (and JAVA_OPTS), or its error. */
const calculate = (limit: string, loadedClasses = 3001, javaOpts = '') => {
  const r = spawnSync(CALCULATOR, [`--loaded-classes=${loadedClasses}`], { env: { PATH: process.env.PATH, MEMORY_LIMIT: limit, JAVA_OPTS: javaOpts }, encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
};

/** The KB of a size flag (-Xmx96306K, -Xss1M). */
const kb = (value: string) => Number(value.slice(0, -1)) * (value.endsWith('M') ? 1024 : 1);

interface Answer {
  hello: string;
  version: string;
  max_heap: number;
  arguments: string[];
  java_opts: string | null;
}

describe('the java buildpack', function () {
  this.timeout(90_000);
  let h: Harness;
  let app: JavaHello;
  let scratch: string;

  before(async function () {
    this.timeout(120_000);
    app = await javaHello();
    h = await startHarness();
    scratch = fs.mkdtempSync(path.join(h.home, 'scratch-'));
  });
  after(async () => h?.close());

  /** A copy of a directory of the built app, with more files in it. */
  const appDir = (name: string, from: string | null, files: Record<string, string | Buffer> = {}) => {
    const dir = path.join(scratch, name);
    if (from) fs.cpSync(from, dir, { recursive: true });
    for (const [file, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), content);
    }
    return dir;
  };

  /** Starts the droplet and asks the app what its JVM was given. */
  const run = async (guid: string, dropletGuid: string, options: Parameters<typeof startInstance>[3] = {}) => {
    startInstance(h, guid, dropletGuid, options);
    const reg = await h.rec.wait('router.register', (d) => d.app === guid, 30_000);
    const res = await get(reg.data.port);
    assert.equal(res.status, 200, res.body);
    return { answer: JSON.parse(res.body) as Answer, port: reg.data.port as number };
  };

  it('stages a jar as cf push -p app.jar uploads it (its contents) and runs java -cp . Main: JAVA_OPTS from the memory limit, on $PORT', async () => {
    const guid = newGuid();
    const { reply, dropletGuid } = await stageApp(h, guid, await packageOf(app.exploded));
    const stg = h.rec.logs(guid, 'STG');
    assert.equal(reply.error, undefined, `${JSON.stringify(reply)}\n${stg.join('\n')}`);
    assert.equal(reply.detected_buildpack, 'java');
    assert.equal(reply.buildpack_name, 'java');
    assert.match(reply.start_command, /^export JAVA_OPTS="-Djava\.io\.tmpdir=\$TMPDIR -XX:\+ExitOnOutOfMemoryError \$JAVA_OPTS" && CALCULATED_MEMORY=\$\(\.java-buildpack\/memory-calculator --loaded-classes=3001\) && /);
    assert.match(reply.start_command, /SERVER_PORT=\$PORT eval exec java \$JAVA_OPTS -cp \. Main$/);
    for (const line of ['-----> Java Buildpack (devbox)', '-----> Running the jar\'s contents, Main-Class Main', '       Loaded classes: 3001 (35% of the app\'s 1 classes, and 3000 of the JRE\'s)']) {
      assert.ok(stg.includes(`STG/0 OUT ${line}`), `${line}\n${stg.join('\n')}`);
    }
    assert.ok(stg.some((l) => /^STG\/0 OUT {8}Using java \d+[.\d]* from the host/.test(l)), stg.join('\n'));
    assert.ok(stg.includes(`STG/0 OUT        JVM memory at the app's limit of 256m (worked out again at each start): ${calculate('256m').out}`), stg.join('\n'));
    const files = await untar(h.controller.droplets.get(dropletGuid)!);
    assert.ok(files.has('app/Main.class') && files.has('app/META-INF/MANIFEST.MF') && files.has('app/.java-buildpack/memory-calculator'));

    // 256M: the heap is what the calculator leaves; at 512M (a scale, no restaging) it is worked out again.
    for (const [mem, index] of [[256, 0], [512, 1]] as const) {
      const flags = calculate(`${mem}m`).out.split(' ');
      startInstance(h, guid, dropletGuid, { mem, index });
      const reg = await h.rec.wait('router.register', (d) => d.app === guid && h.rec.logs(guid, 'APP/PROC/WEB').some((l) => l.startsWith(`APP/PROC/WEB/${index} OUT java listening on ${d.port}`)), 30_000);
      const res = await get(reg.data.port);
      assert.equal(res.status, 200, res.body);
      const answer = JSON.parse(res.body) as Answer;
      assert.equal(answer.hello, 'java');
      for (const flag of ['-XX:+ExitOnOutOfMemoryError', ...flags]) assert.ok(answer.arguments.includes(flag), `${flag} in ${answer.arguments.join(' ')}`);
      assert.match(answer.java_opts ?? '', /-XX:\+ExitOnOutOfMemoryError .*-Xmx\d+K/);
      const xmx = kb(flags.find((f) => f.startsWith('-Xmx'))!.slice(4)) * 1024;
      assert.ok(answer.max_heap > xmx * 0.8 && answer.max_heap < xmx * 1.1, `max heap ${answer.max_heap} for -Xmx of ${xmx} bytes at ${mem}M`);
      assert.ok(h.rec.logs(guid, 'APP/PROC/WEB').includes(`APP/PROC/WEB/${index} OUT JVM Memory Configuration: ${flags.join(' ')}`), h.rec.logs(guid).join('\n'));
    }
  });

  it('runs a jar in the app directory with java -jar, selected by -b java_buildpack; the app\'s JAVA_OPTS are kept and win', async () => {
    const dir = appDir('jar-in-dir', null, { 'app.jar': fs.readFileSync(app.jar), 'package.json': '{"name":"not-a-node-app"}' });
    const guid = newGuid();
    const { reply, dropletGuid } = await stageApp(h, guid, await packageOf(dir), { buildpacks: ['java_buildpack'], environment: { JAVA_OPTS: '-Xss512k -Dgreeting="hello there"' } });
    assert.equal(reply.error, undefined, `${JSON.stringify(reply)}\n${h.rec.logs(guid).join('\n')}`);
    assert.equal(reply.buildpack_name, 'java');
    assert.match(reply.start_command, /eval exec java \$JAVA_OPTS -jar app\.jar$/);
    assert.ok(h.rec.logs(guid, 'STG').includes('STG/0 OUT -----> Running app.jar, Main-Class Main'), h.rec.logs(guid).join('\n'));
    const { answer } = await run(guid, dropletGuid, { env: { JAVA_OPTS: '-Xss512k -Dgreeting="hello there"' } });
    assert.ok(answer.arguments.includes('-Dgreeting=hello there'), answer.arguments.join(' '));
    assert.ok(answer.arguments.includes('-Xss512k') && !answer.arguments.includes('-Xss1M'), `the app's -Xss is kept, not the calculator's: ${answer.arguments.join(' ')}`);
    assert.ok(answer.arguments.some((a) => /^-Xmx\d+K$/.test(a)));

    // -b java names it too, and `*_buildpack` works for every built-in.
    const named = await stageApp(h, newGuid(), await packageOf(app.exploded), { buildpacks: ['java'] });
    assert.equal(named.reply.buildpack_name, 'java', JSON.stringify(named.reply));
  });

  it('runs an exploded Spring Boot jar with its JarLauncher and SERVER_PORT, counting the classes in its BOOT-INF/lib', async () => {
    const guid = newGuid();
    const { reply, dropletGuid } = await stageApp(h, guid, await packageOf(app.springBoot));
    const stg = h.rec.logs(guid, 'STG');
    assert.equal(reply.error, undefined, `${JSON.stringify(reply)}\n${stg.join('\n')}`);
    assert.match(reply.start_command, /SERVER_PORT=\$PORT eval exec java \$JAVA_OPTS -cp \. org\.springframework\.boot\.loader\.launch\.JarLauncher$/);
    assert.ok(stg.includes('STG/0 OUT -----> Running the jar\'s contents, Main-Class org.springframework.boot.loader.launch.JarLauncher (Spring Boot, Start-Class Main)'), stg.join('\n'));
    assert.ok(stg.includes('STG/0 OUT        Loaded classes: 3002 (35% of the app\'s 3 classes, and 3000 of the JRE\'s)'), stg.join('\n'));
    const { port } = await run(guid, dropletGuid);
    assert.ok(h.rec.logs(guid, 'APP/PROC/WEB').includes(`APP/PROC/WEB/0 OUT launcher: Start-Class Main, SERVER_PORT=${port}`), h.rec.logs(guid).join('\n'));
  });

  it('fails a Maven or Gradle project without a built jar: devbox does not run those builds, push the jar with -p', async () => {
    for (const [file, tool] of [['pom.xml', 'Maven'], ['build.gradle', 'Gradle']]) {
      const dir = appDir(`${tool}-project`, null, { [file]: '<project/>\n', 'src/main/java/Main.java': 'class Main {}\n' });
      const guid = newGuid();
      const { reply } = await stageApp(h, guid, await packageOf(dir));
      assert.equal(reply.error?.id, 'BuildpackCompileFailed', JSON.stringify(reply));
      assert.match(reply.error.message, new RegExp(`^App staging failed in the buildpack compile phase \\(bin/compile of java exited with status 1\\): This is a ${tool} project \\(${file}\\) with no built jar, and devbox does not run ${tool} builds: build the jar .* and push it with -p`));
      assert.ok(h.rec.logs(guid, 'STG').some((l) => l.startsWith(`STG/0 ERR        **ERROR** This is a ${tool} project`)), h.rec.logs(guid).join('\n'));
    }
    // Built, with the project pushed whole: Maven's target/*.jar runs.
    const built = appDir('maven-built', null, { 'pom.xml': '<project/>\n', 'target/app-1.0.jar': fs.readFileSync(app.jar), 'target/app-1.0-sources.jar': fs.readFileSync(app.jar) });
    const { reply } = await stageApp(h, newGuid(), await packageOf(built));
    assert.equal(reply.error, undefined, JSON.stringify(reply));
    assert.match(reply.start_command, / -jar target\/app-1\.0\.jar$/);
  });

  it('checks the Java version the app asks for (system.properties) and its classes\' version against the machine\'s java', async () => {
    const settings = spawnSync('java', ['-XshowSettings:properties', '-version'], { encoding: 'utf8', timeout: 30_000 }).stderr;
    const hostVersion = /^\s*java\.version = (.+)$/m.exec(settings)?.[1];
    assert.ok(hostVersion, `the machine's java version in:\n${settings}`);
    const hostMajor = Number(hostVersion.startsWith('1.') ? hostVersion.split('.')[1] : hostVersion.split('.')[0]);

    // A version line the machine lacks: a warning, and the app is staged (it runs with the machine's).
    const line = appDir('java-line', app.exploded, { 'system.properties': `java.runtime.version=${hostMajor + 1}\n` });
    const warned = newGuid();
    const staged = await stageApp(h, warned, await packageOf(line));
    assert.equal(staged.reply.error, undefined, JSON.stringify(staged.reply));
    assert.ok(
      h.rec.logs(warned, 'STG').includes(`STG/0 OUT        **WARNING** The app asks for Java ${hostMajor + 1} (java.runtime.version in system.properties), and this machine's java is ${hostVersion}: the app runs with ${hostVersion}. Install Java ${hostMajor + 1} on the machine to run it with that version.`),
      h.rec.logs(warned).join('\n'),
    );
    // The machine's own line: nothing to say.
    const same = newGuid();
    assert.equal((await stageApp(h, same, await packageOf(appDir('java-same', app.exploded, { 'system.properties': `java.runtime.version=${hostMajor}\n` })))).reply.error, undefined);
    assert.ok(!h.rec.logs(same, 'STG').some((l) => l.includes('WARNING')), h.rec.logs(same).join('\n'));

    // An exact version the machine lacks fails the staging.
    const exact = appDir('java-exact', app.exploded, { 'system.properties': `java.runtime.version = ${hostMajor}.0.0\n` });
    const failed = await stageApp(h, newGuid(), await packageOf(exact));
    assert.equal(failed.reply.error?.id, 'BuildpackCompileFailed', JSON.stringify(failed.reply));
    assert.match(failed.reply.error.message, new RegExp(`: The app asks for Java ${hostMajor}\\.0\\.0 exactly \\(java\\.runtime\\.version in system\\.properties\\), and this machine's java is ${hostVersion.replace(/\./g, '\\.')}`));

    // Classes compiled for a newer Java than the machine's cannot load: a staging error, not a crash.
    const newer = appDir('java-newer', app.exploded);
    const main = fs.readFileSync(path.join(newer, 'Main.class'));
    main.writeUInt16BE(hostMajor + 44 + 1, 6);
    fs.writeFileSync(path.join(newer, 'Main.class'), main);
    const refused = await stageApp(h, newGuid(), await packageOf(newer));
    assert.equal(refused.reply.error?.id, 'BuildpackCompileFailed', JSON.stringify(refused.reply));
    assert.match(refused.reply.error.message, new RegExp(`: Main was compiled for Java ${hostMajor + 1} \\(class file version ${hostMajor + 45}\\), and this machine's java ${hostVersion.replace(/\./g, '\\.')} cannot load it`));
  });

  it('without a Main-Class it gives no start command (push with -c); with -c it stages', async () => {
    const dir = appDir('library-jar', null, { 'lib.jar': fs.readFileSync(app.jar) });
    // A jar without Main-Class: the same classes, a manifest without it.
    execFileSync('jar', ['--create', '--file', path.join(dir, 'lib.jar'), '-C', app.exploded, 'Main.class'], { stdio: 'ignore', timeout: 30_000 });
    const guid = newGuid();
    const { reply } = await stageApp(h, guid, await packageOf(dir));
    assert.equal(reply.error?.id, 'StagingError', JSON.stringify(reply));
    assert.match(reply.error.message, /no start command.*-c/);
    assert.ok(h.rec.logs(guid, 'STG').includes("STG/0 OUT        **WARNING** No start command: lib.jar has no Main-Class in META-INF/MANIFEST.MF: build a runnable jar, or give the command with -c (e.g. -c 'java -cp lib.jar com.example.Main')."), h.rec.logs(guid).join('\n'));
    const given = await stageApp(h, newGuid(), await packageOf(dir), { start_command: 'java -cp lib.jar Main' });
    assert.equal(given.reply.error, undefined, JSON.stringify(given.reply));
    assert.equal(given.reply.start_command, 'java -cp lib.jar Main');
  });

  it('without java on the machine, compile fails naming the Debian package (default-jre-headless)', () => {
    // A PATH with the tools bin/compile uses and no java.
    const bin = path.join(scratch, 'no-java-bin');
    fs.mkdirSync(bin, { recursive: true });
    for (const tool of ['node', 'sed', 'head', 'grep', 'cp', 'chmod', 'mkdir', 'rm', 'dirname', 'tr']) {
      const found = execFileSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      fs.symlinkSync(found, path.join(bin, tool));
    }
    const build = appDir('no-java-app', app.exploded);
    const r = spawnSync('/bin/bash', [path.join(JAVA_BUILDPACK, 'bin', 'compile'), build, path.join(scratch, 'no-java-cache')], { env: { PATH: bin }, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, `${r.stdout}\n${r.stderr}`);
    assert.equal(
      r.stderr.trim(),
      "**ERROR** java is not installed on this machine, and devbox's java buildpack runs apps with the host's java: install it (apt-get install default-jre-headless), then push again.",
    );
  });

  it('the memory calculator: CF\'s sizes at 1G and above, scaled down below, JAVA_OPTS\'s own values kept, too little memory refused', () => {
    assert.equal(calculate('1g').out, '-Xmx505906K -Xss1M -XX:ReservedCodeCacheSize=240M -XX:MaxDirectMemorySize=10M -XX:MaxMetaspaceSize=30670K');
    assert.equal(calculate('2G').out, '-Xmx1554482K -Xss1M -XX:ReservedCodeCacheSize=240M -XX:MaxDirectMemorySize=10M -XX:MaxMetaspaceSize=30670K');
    assert.equal(calculate('256m').out, '-Xmx96306K -Xss1M -XX:ReservedCodeCacheSize=60M -XX:MaxDirectMemorySize=10M -XX:MaxMetaspaceSize=30670K');
    // 10000 classes: 14000000 B + 10000 × 5800 B of metaspace.
    assert.match(calculate('1g', 10000).out, /-XX:MaxMetaspaceSize=70313K$/);
    assert.equal(calculate('256m', 3001, '-Xss512k -XX:MaxMetaspaceSize=64m -Dx="a b"').out, '-Xmx91M -XX:ReservedCodeCacheSize=60M -XX:MaxDirectMemorySize=10M');
    assert.equal(calculate('64m', 3001, '-Xmx20m').code, 0, 'a heap the app fixes is its own business');
    const small = calculate('64m');
    assert.equal(small.code, 1);
    assert.match(small.err, /^Cannot calculate JVM memory configuration: the memory limit 64M leaves 0M for the heap \(at least 16M is needed\).*Give the app more memory \(-m\)/);
  });
});
