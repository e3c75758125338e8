// Java apps on a real box (issue 21): `devbox push` of a directory holding the jar, `cf push -p
// app.jar` (the real cf CLI uploads the jar's contents), each staged by the java buildpack and
// reached through the router, with its JVM memory sized from the app's limit; a Maven project that
// was not built fails with what to do, in push's words; `cf buildpacks` and `cf stacks` list the
// platform. The app is compiled once per run (test/fixtures/apps/java-hello/build.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { request } from '../../src/runtime/common/http.js';
import { BUILTIN_ORDER } from '../../src/runtime/dea/staging/buildpacks.js';
import { javaHello, type JavaHello } from '../fixtures/apps/java-hello/build.js';
import { freePort } from '../../src/runtime/common/net.js';
import { cfFor, table, type Cf } from '../helpers/cf.js';
import { cleanupBox, devbox, tempHome, type DevboxResult } from '../helpers/devbox.js';

interface Answer {
  hello: string;
  max_heap: number;
  arguments: string[];
}

describe('java apps through a real box: devbox push and cf push -p app.jar', function () {
  this.timeout(120_000);
  const box = { home: '', port: 0 };
  const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  let cf: Cf;
  let app: JavaHello;
  let work: string;

  before(async function () {
    this.timeout(240_000);
    app = await javaHello();
    box.home = tempHome('devbox-java-');
    box.port = await freePort();
    // Its own ssh port too: another box on the machine may hold the default 2222.
    const up = await devbox(box.home, ['up', '-d', '--port', String(box.port), '--ssh-port', String(await freePort())], { timeoutMs: 90_000 });
    assert.equal(up.exitCode, 0, show(up));
    cf = await cfFor(box);
    await cf.login();
    work = fs.mkdtempSync(path.join(box.home, 'apps-'));
  });
  after(async function () {
    this.timeout(60_000);
    cf?.cleanup();
    if (box.home) await cleanupBox(box.home);
  });

  /** The app's answer through the router, as a browser would ask http://HOST.localhost:PORT/. */
  const visit = async (host: string): Promise<Answer> => {
    const res = await request({ url: `http://${host}.localhost:${box.port}/`, timeoutMs: 5_000, routeWaitMs: 10_000 });
    assert.equal(res.status, 200, res.text);
    return JSON.parse(res.text) as Answer;
  };

  it('devbox push -p DIR with app.jar in it: staged with java, run with java -jar, JVM sized for 256M', async () => {
    const dir = path.join(work, 'jar-dir');
    fs.mkdirSync(dir);
    fs.copyFileSync(app.jar, path.join(dir, 'app.jar'));
    const r = await devbox(box.home, ['push', 'jhello', '-p', dir], { timeoutMs: 90_000 });
    assert.equal(r.exitCode, 0, show(r));
    assert.match(r.stdout, /^ {3}-----> Java Buildpack \(devbox\)$/m);
    assert.match(r.stdout, /^ {3}staged with java$/m);
    assert.match(r.stdout, /^start command: .* -jar app\.jar$/m);
    const answer = await visit('jhello');
    assert.equal(answer.hello, 'java');
    assert.ok(answer.arguments.includes('-XX:+ExitOnOutOfMemoryError') && answer.arguments.includes('-XX:ReservedCodeCacheSize=60M'), answer.arguments.join(' '));
    assert.ok(answer.arguments.some((a) => /^-Xmx\d+K$/.test(a)), answer.arguments.join(' '));
  });

  it('devbox push -p app.jar: the archive uploaded as it is, run as cf runs it (java -cp . Main)', async () => {
    const r = await devbox(box.home, ['push', 'jarchive', '-p', app.jar], { timeoutMs: 90_000 });
    assert.equal(r.exitCode, 0, show(r));
    assert.match(r.stdout, /the archive app\.jar/);
    assert.doesNotMatch(r.stdout, /-jar app\.jar/, 'the jar\'s contents, not a jar in a directory');
    assert.equal((await visit('jarchive')).hello, 'java');
  });

  it('cf push -p app.jar (the jar\'s contents), -b java_buildpack and -m 512M: java -cp . Main behind the router', async () => {
    const out = await cf.ok(['push', 'jcf', '-p', app.jar, '-b', 'java_buildpack', '-m', '512M'], { timeoutMs: 110_000 });
    assert.match(out, /#0\s+running\s/);
    const answer = await visit('jcf');
    assert.equal(answer.hello, 'java');
    // 512M: the code cache is half of CF's 240M (docs/dea.md, "The built-in buildpacks").
    assert.ok(answer.arguments.includes('-XX:ReservedCodeCacheSize=120M'), answer.arguments.join(' '));
    const summary = await cf.ok(['app', 'jcf']);
    // cf's buildpacks table: name, version (none), detect output, buildpack name.
    assert.match(summary, /^\tjava\s+java\s+java$/m);
  });

  it('a Maven project without its jar fails staging with why and what to do, as push prints it', async () => {
    const dir = path.join(work, 'maven');
    fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'pom.xml'), '<project/>\n');
    const r = await devbox(box.home, ['push', 'jmaven', '-p', dir], { timeoutMs: 90_000 });
    assert.equal(r.exitCode, 1, show(r));
    assert.match(r.stderr, /Error staging application: App staging failed in the buildpack compile phase \(bin\/compile of java exited with status 1\): This is a Maven project \(pom\.xml\) with no built jar, and devbox does not run Maven builds: build the jar \(mvn package\) and push it with -p/);
  });

  it('cf buildpacks lists every built-in by position (java first); cf stacks the host', async () => {
    const rows = table(await cf.ok(['buildpacks']), 'position');
    assert.deepEqual(rows.map((b) => b.name), [...BUILTIN_ORDER]);
    assert.deepEqual(rows[0], { position: '1', name: 'java', stack: 'host', enabled: 'true', locked: 'false', filename: 'java_buildpack' });
    const stacks = table(await cf.ok(['stacks']), 'name');
    assert.deepEqual(stacks.map((s) => s.name), ['host']);
  });
});
