// Staging on a real DEA: the built-in buildpacks run for real (npm included), a user's buildpack
// directory, the failures Cloud Foundry names, and every line published as STG. Each staging runs
// in a container of its own, as the containers' user, with only a stager's environment.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from '../../../src/runtime/common/poll.js';
import { HOST_PASSTHROUGH } from '../../../src/runtime/dea/instances/env.js';
import { STAGING_PASSTHROUGH } from '../../../src/runtime/dea/staging/stager.js';
import { untar } from '../../helpers/archives.js';
import { FIXTURES, get, newGuid, packageOf, stageApp, startHarness, startInstance, type Harness } from './helpers.js';

const writeExecutable = (file: string, text: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o755 });
};

/** Writes greet-1.0-py3-none-any.whl (one module, greet.greet(name)) into argv[1]. */
const WHEEL_SCRIPT = `
import base64, hashlib, os, sys, zipfile
files = {
    'greet.py': 'def greet(name):\\n    return "hello " + name\\n',
    'greet-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\\nName: greet\\nVersion: 1.0\\n',
    'greet-1.0.dist-info/WHEEL': 'Wheel-Version: 1.0\\nGenerator: devbox-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
}
record = []
for name, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()
    record.append(f'{name},sha256={digest},{len(text.encode())}')
files['greet-1.0.dist-info/RECORD'] = '\\n'.join(record + ['greet-1.0.dist-info/RECORD,,']) + '\\n'
with zipfile.ZipFile(os.path.join(sys.argv[1], 'greet-1.0-py3-none-any.whl'), 'w') as z:
    for name, text in files.items():
        z.writestr(name, text)
`;

describe('dea staging', function () {
  this.timeout(90_000);
  let h: Harness;
  let scratch: string;

  before(async () => {
    h = await startHarness();
    scratch = fs.mkdtempSync(path.join(h.home, 'scratch-'));
  });
  after(async () => h?.close());

  it('stages a Node app without dependencies: detected, npm start, droplet uploaded, STG lines', async () => {
    const app = newGuid();
    const { reply, dropletGuid } = await stageApp(h, app, await packageOf(path.join(FIXTURES, 'node-hello')));
    assert.equal(reply.error, undefined, JSON.stringify(reply));
    assert.equal(reply.detected_buildpack, 'nodejs');
    assert.equal(reply.buildpack_name, 'nodejs');
    assert.equal(reply.start_command, 'npm start');
    assert.deepEqual(reply.process_types, { web: 'npm start' });
    assert.match(reply.droplet_sha1, /^[0-9a-f]{40}$/);
    const droplet = h.controller.droplets.get(dropletGuid);
    assert.ok(droplet, 'droplet uploaded');
    const files = await untar(droplet);
    assert.ok(files.has('app/server.js'));
    assert.ok(files.has('app/.profile.d/nodejs.sh'));
    assert.match(files.get('staging_info.yml')!.content, /detected_buildpack: nodejs/);
    assert.match(files.get('staging_info.yml')!.content, /start_command: npm start/);
    const logs = h.rec.logs(app, 'STG');
    assert.ok(logs.includes('STG/0 OUT Downloading app package...'), logs.join('\n'));
    assert.ok(logs.includes('STG/0 OUT -----> Nodejs Buildpack (devbox)'), logs.join('\n'));
    assert.ok(logs.includes('STG/0 OUT        No dependencies to install'), logs.join('\n'));
    assert.ok(logs.some((l) => /^STG\/0 OUT Uploaded droplet \(/.test(l)), logs.join('\n'));
    assert.equal(fs.readdirSync(h.dea.paths.staging).length, 0, 'the build directory is removed');
  });

  it('stages a Node app with an npm dependency, then restores node_modules from the cache', async function () {
    this.timeout(120_000);
    const app = newGuid();
    const pkg = await packageOf(path.join(FIXTURES, 'node-dep'));
    const first = await stageApp(h, app, pkg, {}, 110_000);
    assert.equal(first.reply.error, undefined, `${JSON.stringify(first.reply)}\n${h.rec.logs(app).join('\n')}`);
    assert.equal(first.reply.start_command, 'node server.js');
    const files = await untar(h.controller.droplets.get(first.dropletGuid)!);
    assert.ok(files.has('app/node_modules/ms/package.json'), 'ms installed into the droplet');
    assert.ok(h.rec.logs(app, 'STG').some((l) => l.includes('Installing 1 dependencies (npm install --omit=dev)')));
    const second = await stageApp(h, app, pkg);
    assert.equal(second.reply.error, undefined);
    assert.ok(h.rec.logs(app, 'STG').some((l) => l.includes('Restoring node_modules from the cache')), h.rec.logs(app).join('\n'));
    assert.ok((await untar(h.controller.droplets.get(second.dropletGuid)!)).has('app/node_modules/ms/index.js'));
    startInstance(h, app, second.dropletGuid);
    const reg = await h.rec.wait('router.register', (d) => d.app === app);
    assert.equal((await get(reg.data.port)).body, 'two hours is 7200000 ms\n');
  });

  it('stages a Python app without requirements (python3 app.py)', async () => {
    const app = newGuid();
    const { reply, dropletGuid } = await stageApp(h, app, await packageOf(path.join(FIXTURES, 'python-hello')));
    assert.equal(reply.error, undefined, JSON.stringify(reply));
    assert.equal(reply.detected_buildpack, 'python');
    assert.equal(reply.start_command, 'python3 app.py');
    const files = await untar(h.controller.droplets.get(dropletGuid)!);
    assert.match(files.get('app/.profile.d/python.sh')!.content, /PYTHONUNBUFFERED=1/);
    assert.ok(h.rec.logs(app, 'STG').some((l) => l.includes('No requirements to install')));
    startInstance(h, app, dropletGuid, { index: 1 });
    const reg = await h.rec.wait('router.register', (d) => d.app === app);
    assert.deepEqual(JSON.parse((await get(reg.data.port)).body), { hello: 'python', index: '1' });
    // Unbuffered output (the buildpack's .profile.d): the line is there at once.
    assert.ok(h.rec.logs(app, 'APP/PROC/WEB').includes(`APP/PROC/WEB/1 OUT python listening on ${reg.data.port}`), h.rec.logs(app).join('\n'));
  });

  it('stages a Python app with requirements: pip installs them into the droplet, on PYTHONPATH at run time', async function () {
    this.timeout(60_000);
    const dir = path.join(scratch, 'python-req');
    fs.mkdirSync(path.join(dir, 'vendor'), { recursive: true });
    // A tiny wheel made here, so that pip needs no index.
    execFileSync('python3', ['-c', WHEEL_SCRIPT, path.join(dir, 'vendor')]);
    fs.writeFileSync(path.join(dir, 'requirements.txt'), '# vendored\n./vendor/greet-1.0-py3-none-any.whl\n');
    fs.writeFileSync(path.join(dir, 'main.py'), 'import os, greet\nfrom http.server import HTTPServer, BaseHTTPRequestHandler\nclass H(BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200)\n        self.end_headers()\n        self.wfile.write(greet.greet("devbox").encode())\nHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()\n');
    const app = newGuid();
    const { reply, dropletGuid } = await stageApp(h, app, await packageOf(dir));
    assert.equal(reply.error, undefined, `${JSON.stringify(reply)}\n${h.rec.logs(app).join('\n')}`);
    assert.equal(reply.start_command, 'python3 main.py');
    assert.ok(h.rec.logs(app, 'STG').includes('STG/0 OUT -----> Installing requirements with pip'));
    assert.ok((await untar(h.controller.droplets.get(dropletGuid)!)).has('app/.python_packages/greet.py'));
    startInstance(h, app, dropletGuid);
    const reg = await h.rec.wait('router.register', (d) => d.app === app);
    assert.equal((await get(reg.data.port)).body, 'hello devbox');
  });

  it('stages a static site and serves it (index.html, types, no dot files, no escape)', async () => {
    const app = newGuid();
    const { reply, dropletGuid } = await stageApp(h, app, await packageOf(path.join(FIXTURES, 'static-site')));
    assert.equal(reply.error, undefined, JSON.stringify(reply));
    assert.equal(reply.detected_buildpack, 'staticfile');
    assert.equal(reply.start_command, 'node .devbox-static/server.mjs .');
    startInstance(h, app, dropletGuid);
    const reg = await h.rec.wait('router.register', (d) => d.app === app);
    const index = await get(reg.data.port, '/');
    assert.equal(index.status, 200);
    assert.match(index.headers['content-type'] ?? '', /^text\/html/);
    assert.match(index.body, /Hello from a static site/);
    const css = await get(reg.data.port, '/css/style.css');
    assert.equal(css.status, 200);
    assert.match(css.headers['content-type'] ?? '', /^text\/css/);
    assert.equal((await get(reg.data.port, '/css')).status, 301);
    assert.equal((await get(reg.data.port, '/.secret')).status, 404);
    assert.equal((await get(reg.data.port, '/.devbox-static/server.mjs')).status, 404);
    assert.equal((await get(reg.data.port, '/../../staging_info.yml')).status, 404);
    assert.equal((await get(reg.data.port, '/%2e%2e/staging_info.yml')).status, 404);
    assert.equal((await get(reg.data.port, '/nope.html')).status, 404);
  });

  it('stages a binary with a command (-b binary -c), and refuses one without a command', async () => {
    const app = newGuid();
    const pkg = await packageOf(path.join(FIXTURES, 'binary-app'));
    const { reply, dropletGuid } = await stageApp(h, app, pkg, { buildpacks: ['binary'], start_command: './serve' });
    assert.equal(reply.error, undefined, JSON.stringify(reply));
    assert.equal(reply.detected_buildpack, 'binary');
    assert.equal(reply.start_command, './serve');
    const files = await untar(h.controller.droplets.get(dropletGuid)!);
    assert.ok(files.has('app/serve'));
    startInstance(h, app, dropletGuid, { command: './serve' });
    const reg = await h.rec.wait('router.register', (d) => d.app === app);
    assert.match((await get(reg.data.port)).body, /binary says hi/);

    const without = await stageApp(h, newGuid(), pkg, { buildpacks: ['binary_buildpack'] });
    assert.equal(without.reply.error.id, 'StagingError');
    assert.match(without.reply.error.message, /no start command.*-c/);
  });

  it('runs a buildpack directory of the user\'s (supply + finalize), with its cache kept per app', async () => {
    const bp = path.join(scratch, 'greeting-buildpack');
    writeExecutable(path.join(bp, 'bin', 'supply'), '#!/usr/bin/env bash\nset -e\necho "supplying into $3/$4"\necho supplied > "$3/$4/supplied.txt"\n');
    writeExecutable(
      path.join(bp, 'bin', 'finalize'),
      '#!/usr/bin/env bash\nset -e\ncount=$(cat "$2/count" 2>/dev/null || echo 0)\ncount=$((count+1))\necho $count > "$2/count"\necho "finalize run $count with GREETING=$GREETING"\necho "echo hi" > "$1/start.sh"\necho "a warning" >&2\n',
    );
    writeExecutable(path.join(bp, 'bin', 'release'), '#!/usr/bin/env bash\necho "---"\necho "default_process_types:"\necho "  web: bash start.sh"\n');
    // Private to the DEA's user (as mkdtemp makes it): the staging's user runs it all the same.
    fs.chmodSync(bp, 0o700);
    const app = newGuid();
    const pkg = await packageOf(path.join(FIXTURES, 'binary-app'));
    const first = await stageApp(h, app, pkg, { buildpacks: [bp], environment: { GREETING: 'hello' } });
    assert.equal(first.reply.error, undefined, JSON.stringify(first.reply));
    assert.equal(first.reply.start_command, 'bash start.sh');
    assert.equal(first.reply.buildpack_name, bp);
    assert.equal(first.reply.detected_buildpack, 'greeting-buildpack');
    const files = await untar(h.controller.droplets.get(first.dropletGuid)!);
    assert.equal(files.get('deps/0/supplied.txt')?.content, 'supplied\n');
    assert.ok(files.has('app/start.sh'));
    const logs = h.rec.logs(app, 'STG');
    assert.ok(logs.includes('STG/0 OUT finalize run 1 with GREETING=hello'), logs.join('\n'));
    assert.ok(logs.includes('STG/0 ERR a warning'), logs.join('\n'));
    await stageApp(h, app, pkg, { buildpacks: [bp] });
    assert.ok(h.rec.logs(app, 'STG').includes('STG/0 OUT finalize run 2 with GREETING='), 'the cache directory survived');
  });

  it('reads a Procfile the staging left only when it is a regular file (not a link to a DEA file, not a FIFO)', async () => {
    const secret = path.join(h.home, 'procfile-secret.yml');
    fs.writeFileSync(secret, 'web: secret-command-of-the-dea\n', { mode: 0o600 });
    const bp = path.join(scratch, 'procfile-buildpack');
    writeExecutable(path.join(bp, 'bin', 'compile'), '#!/usr/bin/env bash\nset -e\nif [ "$MODE" = fifo ]; then mkfifo "$1/Procfile"; else ln -s "$TARGET" "$1/Procfile"; fi\n');
    writeExecutable(path.join(bp, 'bin', 'release'), '#!/usr/bin/env bash\nprintf -- "---\\ndefault_process_types:\\n  web: bash start.sh\\n"\n');
    const pkg = await packageOf(path.join(FIXTURES, 'binary-app'));
    for (const environment of [{ MODE: 'link', TARGET: secret }, { MODE: 'fifo' }]) {
      const { reply, dropletGuid } = await stageApp(h, newGuid(), pkg, { buildpacks: [bp], environment });
      assert.equal(reply.error, undefined, JSON.stringify(reply));
      assert.deepEqual(reply.process_types, { web: 'bash start.sh' }, environment.MODE);
      assert.equal(reply.start_command, 'bash start.sh');
      const files = await untar(h.controller.droplets.get(dropletGuid)!);
      assert.equal(files.has('app/Procfile'), environment.MODE === 'link', 'a link is kept as a link; a FIFO is left out of the droplet');
    }
  });

  it('fails with NoSuchBuildpack listing the built-in ones', async () => {
    const { reply } = await stageApp(h, newGuid(), await packageOf(path.join(FIXTURES, 'node-hello')), { buildpacks: ['dotnet_core_buildpack'] });
    assert.equal(reply.error.id, 'NoSuchBuildpack');
    assert.match(reply.error.message, /'dotnet_core_buildpack' not found/);
    assert.match(reply.error.message, /java, ruby, nodejs, go, python, php, staticfile, binary/);
  });

  it('fails with NoAppDetectedError when no buildpack detects the app', async () => {
    const dir = path.join(scratch, 'undetectable');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'README'), 'nothing to run\n');
    const app = newGuid();
    const { reply } = await stageApp(h, app, await packageOf(dir));
    assert.deepEqual(reply.error, { id: 'NoAppDetectedError', message: 'An app was not successfully detected by any available buildpack' });
    assert.ok(h.rec.logs(app, 'STG').some((l) => l.startsWith('STG/0 ERR Staging failed: NoAppDetectedError')));
  });

  it('fails with BuildpackCompileFailed when compile fails, its output in the logs', async () => {
    const dir = path.join(scratch, 'broken-node');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), '{ not json');
    const app = newGuid();
    const { reply } = await stageApp(h, app, await packageOf(dir));
    assert.equal(reply.error.id, 'BuildpackCompileFailed');
    assert.match(reply.error.message, /App staging failed in the buildpack compile phase/);
    const logs = h.rec.logs(app, 'STG');
    assert.ok(logs.some((l) => l.startsWith('STG/0 ERR package.json is not valid JSON')), logs.join('\n'));
    assert.equal(fs.readdirSync(h.dea.paths.staging).length, 0);
  });

  it('fails with StagingError when the package cannot be downloaded', async () => {
    const app = newGuid();
    const { reply } = await stageApp(h, app, Buffer.alloc(0), { package_download_uri: h.controller.url('/v3/packages/missing/download') });
    assert.equal(reply.error.id, 'StagingError');
    assert.match(reply.error.message, /Failed to download the app package: GET .* answered 404/);
  });

  it('runs stagings concurrently', async () => {
    const pkg = await packageOf(path.join(FIXTURES, 'node-hello'));
    const started = Date.now();
    const results = await Promise.all([1, 2, 3].map(() => stageApp(h, newGuid(), pkg)));
    for (const r of results) assert.equal(r.reply.error, undefined);
    assert.ok(Date.now() - started < 20_000);
  });

  it('stages in a container of its own: uid 2000 as root, nothing of devbox\'s files or of the DEA\'s environment (an npm preinstall probes)', async function () {
    this.timeout(60_000);
    assert.equal(h.dea.containers.isolation, 'namespaces', `staging containers need bubblewrap: apt-get install bubblewrap (${h.dea.containers.detail})`);
    const marker = randomBytes(6).toString('hex');
    // A secret in $DEVBOX_HOME (as config.json) and one in the DEA's own directory, world-readable.
    const secrets = [path.join(h.home, 'config.json'), path.join(h.dea.paths.root, 'secret.txt')];
    for (const file of secrets) fs.writeFileSync(file, `secret-${marker}-${path.basename(file)}\n`, { mode: 0o644 });
    const dir = path.join(scratch, 'preinstall-probe');
    fs.mkdirSync(path.join(dir, 'local'), { recursive: true });
    // A local dependency (no registry needed), so that the buildpack runs npm, which runs preinstall.
    fs.writeFileSync(path.join(dir, 'local', 'package.json'), '{ "name": "local", "version": "1.0.0" }\n');
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'probe', version: '1.0.0', private: true, scripts: { preinstall: 'sh probe.sh', start: 'node server.js' }, dependencies: { local: 'file:./local' } }),
    );
    fs.writeFileSync(
      path.join(dir, 'probe.sh'),
      [
        'echo "probe uid=$(id -u) user=$USER home=$HOME tmpdir=$TMPDIR pwd=$(pwd)"',
        'for f in $SECRET_FILES; do if out=$(cat "$f" 2>&1); then echo "probe read $f: $out"; else echo "probe refused $f: $out"; fi; done',
        'touch "$HOME/.probe" && touch "$TMPDIR/probe" && echo "probe home and tmp writable"',
        'echo "probe shell secret=${SHELL_SECRET:-absent}"',
        'echo "probe env names: $(env | sed -n "s/^\\([A-Za-z_][A-Za-z0-9_]*\\)=.*/\\1/p" | sort | tr "\\n" " ")"',
        '',
      ].join('\n'),
    );
    const app = newGuid();
    process.env.SHELL_SECRET = `shell-secret-${marker}`;
    let reply;
    try {
      ({ reply } = await stageApp(h, app, await packageOf(dir), { environment: { SECRET_FILES: secrets.join(' '), GREETING: 'hi' } }));
    } finally {
      delete process.env.SHELL_SECRET;
    }
    const logs = h.rec.logs(app, 'STG');
    assert.equal(reply.error, undefined, `${JSON.stringify(reply)}\n${logs.join('\n')}`);
    const said = (prefix: string) => logs.find((l) => l.startsWith(`STG/0 OUT probe ${prefix}`)) ?? assert.fail(`no "probe ${prefix}" line:\n${logs.join('\n')}`);
    const uid = process.getuid?.() === 0 ? 2000 : process.getuid?.();
    assert.equal(said('uid='), `STG/0 OUT probe uid=${uid} user=vcap home=/home/vcap tmpdir=/home/vcap/tmp pwd=/tmp/app`);
    for (const file of secrets) assert.match(said(`refused ${file}`), /No such file or directory/);
    assert.ok(!logs.some((l) => l.includes(`secret-${marker}`)), logs.join('\n'));
    said('home and tmp writable');
    assert.equal(said('shell secret='), 'STG/0 OUT probe shell secret=absent');
    const names = said('env names: ').replace('STG/0 OUT probe env names: ', '').trim().split(' ');
    for (const name of ['PATH', 'LANG', 'HOME', 'TMPDIR', 'USER', 'CF_STACK', 'MEMORY_LIMIT', 'GREETING', 'SECRET_FILES']) assert.ok(names.includes(name), `${name} in ${names.join(' ')}`);
    // Nothing of the DEA's own environment but what a stager gets (and what sh and npm set themselves).
    const given = new Set(['PATH', 'LANG', 'HOME', 'TMPDIR', 'USER', 'PWD', 'SHLVL', '_', 'OLDPWD', 'INIT_CWD', 'NODE', 'NODE_ENV', 'COLOR', 'EDITOR', ...HOST_PASSTHROUGH, ...STAGING_PASSTHROUGH]);
    const leaked = Object.keys(process.env).filter((key) => names.includes(key) && !given.has(key) && !/^npm_/i.test(key));
    assert.deepEqual(leaked, [], `the DEA's environment leaked into the staging: ${leaked.join(' ')}`);
  });
});

describe('dea staging timeout', function () {
  this.timeout(60_000);
  let h: Harness;

  before(async () => {
    h = await startHarness({ stagingTimeoutMs: 4_000 });
  });
  after(async () => h?.close());

  /** Host pids of processes whose command line is exactly `argv`. */
  const processesRunning = (argv: string[]): number[] => {
    const wanted = `${argv.join('\0')}\0`;
    const found: number[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8') === wanted) found.push(Number(entry));
      } catch {
        // gone meanwhile
      }
    }
    return found;
  };

  it('kills everything the staging started when it times out (a setsid child too): StagingTimeExpired', async () => {
    assert.equal(h.dea.containers.isolation, 'namespaces', `staging containers need bubblewrap: apt-get install bubblewrap (${h.dea.containers.detail})`);
    // A sleep no other process runs: its own session, outside the step's process group.
    const background = ['sleep', `3600.${process.pid}${Date.now() % 100_000}`];
    const bp = fs.mkdtempSync(path.join(h.home, 'hanging-buildpack-'));
    writeExecutable(
      path.join(bp, 'bin', 'compile'),
      `#!/usr/bin/env bash\nsetsid ${background.join(' ')} </dev/null >/dev/null 2>&1 &\nwhile ! pgrep -f '${background.join(' ')}' >/dev/null; do sleep 0.05; done\necho "background started"\nexec sleep 3600\n`,
    );
    const app = newGuid();
    const staging = stageApp(h, app, await packageOf(path.join(FIXTURES, 'binary-app')), { buildpacks: [bp], start_command: './serve' });
    await h.rec.wait(`logs.${app}`, (d) => d.message === 'background started', 10_000);
    assert.ok(processesRunning(background).length > 0, 'the background process runs during the staging');
    const { reply } = await staging;
    assert.equal(reply.error?.id, 'StagingTimeExpired', JSON.stringify(reply));
    await waitFor('the staging\'s background process killed', () => processesRunning(background).length === 0, { timeoutMs: 5_000 });
    assert.equal(fs.readdirSync(h.dea.paths.staging).length, 0, 'the staging directory is removed');
  });
});
