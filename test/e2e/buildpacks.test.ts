// The go, ruby and php buildpacks through a real box (issue 21): a Go module app whose Procfile names
// its binary, pushed with the real cf CLI, and a Sinatra app (its gems Debian's packages, installed
// with `bundle install --local`) and a PHP page pushed with devbox, at once, each reached through the
// router; a toolchain missing from the PATH the buildpacks see and an exact version the machine
// lacks fail the push with what to install; a buildpack URL is refused; `cf buildpacks`, `cf stacks`,
// `devbox buildpacks` and `devbox stacks` show the built-ins and the host. (Java apps:
// java.test.ts.) One box for the whole file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/runtime/common/http.js';
import { freePort } from '../../src/runtime/common/net.js';
import { BUILTIN_ORDER } from '../../src/runtime/dea/staging/buildpacks.js';
import { sinatraApp } from '../fixtures/apps/ruby-sinatra/prepare.js';
import { cfFor, table, type Cf } from '../helpers/cf.js';
import { cleanupBox, devbox, tempHome, type DevboxResult } from '../helpers/devbox.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/apps/', import.meta.url));

/** The machine's distribution as /etc/os-release names it: what the stack's description says. */
function prettyName(): string {
  const text = fs.readFileSync(fs.existsSync('/etc/os-release') ? '/etc/os-release' : '/usr/lib/os-release', 'utf8');
  const found = /^PRETTY_NAME=("?)(.*)\1$/m.exec(text)?.[2];
  assert.ok(found, `no PRETTY_NAME in os-release:\n${text}`);
  return found;
}

describe('go, ruby and php apps through a real box: cf push, devbox push, cf buildpacks and cf stacks', function () {
  this.timeout(120_000);
  const box = { home: '', port: 0 };
  const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  let cf: Cf;
  let work: string;
  let sinatra: string;

  before(async function () {
    this.timeout(180_000);
    box.home = tempHome('devbox-buildpacks-');
    box.port = await freePort();
    work = fs.mkdtempSync(path.join(box.home, 'apps-'));
    const [up, app] = await Promise.all([
      // Its own ssh port too: another box on the machine may hold the default 2222.
      devbox(box.home, ['up', '-d', '--port', String(box.port), '--ssh-port', String(await freePort())], { timeoutMs: 90_000 }),
      sinatraApp(path.join(work, 'sinatra')),
    ]);
    assert.equal(up.exitCode, 0, show(up));
    sinatra = app;
    cf = await cfFor(box);
    await cf.login();
  });
  after(async function () {
    this.timeout(60_000);
    cf?.cleanup();
    if (box.home) await cleanupBox(box.home);
  });

  /** The app's answer through the router, as a browser would ask http://HOST.localhost:PORT/PATH. */
  const visit = async (host: string, at = '/') => {
    const res = await request({ url: `http://${host}.localhost:${box.port}${at}`, timeoutMs: 5_000, routeWaitMs: 10_000 });
    return { status: res.status, text: res.text };
  };
  /** A copy of a fixture app with more files. */
  const copyOf = (fixture: string, name: string, files: Record<string, string> = {}) => {
    const dir = path.join(work, name);
    fs.cpSync(path.join(FIXTURES, fixture), dir, { recursive: true });
    for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), content);
    return dir;
  };

  it('a Go module (cf push), a Sinatra app and a PHP page (devbox push), pushed at once, each answering through the router', async () => {
    const [goOut, ruby, php] = await Promise.all([
      cf.ok(['push', 'gohello', '-p', path.join(FIXTURES, 'go-hello')], { timeoutMs: 110_000 }),
      devbox(box.home, ['push', 'sinatra', '-p', sinatra], { timeoutMs: 110_000 }),
      devbox(box.home, ['push', 'phphello', '-p', path.join(FIXTURES, 'php-hello')], { timeoutMs: 110_000 }),
    ]);

    assert.match(goOut, /^\s+-----> Go Buildpack \(devbox\)$/m);
    assert.match(goOut, /#0\s+running\s/);
    // cf's buildpacks table: name, version (none), detect output, buildpack name.
    assert.match(goOut, /^\tgo\s+go\s+go$/m);
    const go = await visit('gohello');
    assert.equal(go.status, 200, go.text);
    // The Procfile's `web: go-hello` found the binary on the PATH.
    assert.match(go.text, /^hello from go: built with go\d+\.\d+(\.\d+)?, started as go-hello\n$/);

    assert.equal(ruby.exitCode, 0, show(ruby));
    assert.match(ruby.stdout, /^ {3}-----> Ruby Buildpack \(devbox\)$/m);
    assert.match(ruby.stdout, /^ {3}-----> Installing gems with bundler \(deployment mode: frozen to Gemfile\.lock; without development, test\)$/m);
    assert.match(ruby.stdout, /^ {3}staged with ruby$/m);
    assert.match(ruby.stdout, /^start command: {3}bundle exec rackup config\.ru -p \$PORT -o \$\{VCAP_APP_HOST:-0\.0\.0\.0\}$/m);
    const page = await visit('sinatra');
    assert.equal(page.status, 200, page.text);
    assert.match(page.text, /^hello from sinatra 3\.\d+\.\d+ on ruby \d+\.\d+\.\d+, rack 2(\.\d+)+, production\n$/);

    assert.equal(php.exitCode, 0, show(php));
    assert.match(php.stdout, /^ {3}-----> PHP Buildpack \(devbox\)$/m);
    assert.match(php.stdout, /^start command: {3}php -S \$\{VCAP_APP_HOST:-0\.0\.0\.0\}:\$PORT -t public$/m);
    const hello = await visit('phphello', '/welcome');
    assert.equal(hello.status, 200, hello.text);
    assert.match(hello.text, /^hello from php \d+\.\d+\.\d+\S* \(cli-server\) at \/welcome\n/);
    assert.equal((await visit('phphello', '/notes.txt')).status, 404, 'only public/ is served');
  });

  it('a toolchain the PATH lacks (devbox push) and an exact Ruby the machine lacks (cf push) fail staging saying what to do', async () => {
    // The buildpacks find the host's toolchains on the staging's PATH; an app's own PATH replaces it.
    const noGo = copyOf('go-hello', 'no-go', { 'manifest.yml': 'applications:\n- name: nogo\n  path: ./\n  env:\n    PATH: /usr/sbin:/sbin\n' });
    const pinned = path.join(work, 'pinned');
    fs.cpSync(sinatra, pinned, { recursive: true });
    fs.writeFileSync(path.join(pinned, '.ruby-version'), '2.6.99\n');
    const [missing, pin] = await Promise.all([
      devbox(box.home, ['push', '-f', path.join(noGo, 'manifest.yml')], { timeoutMs: 90_000 }),
      cf.run(['push', 'rubypin', '-p', pinned], { timeoutMs: 90_000 }),
    ]);
    assert.equal(missing.exitCode, 1, show(missing));
    assert.match(
      missing.stderr,
      /^Error staging application: App staging failed in the buildpack compile phase \(bin\/compile of go exited with status 1\): go is not installed on this machine \(no go on the PATH \/usr\/sbin:\/sbin\), and devbox's go buildpack builds apps with the host's go: install it \(apt-get install golang-go\), then push again\.$/m,
    );
    assert.notEqual(pin.exitCode, 0, `${pin.stdout}\n${pin.stderr}`);
    assert.match(
      `${pin.stdout}\n${pin.stderr}`,
      /BuildpackCompileFailed - App staging failed in the buildpack compile phase \(bin\/compile of ruby exited with status 1\): The app asks for Ruby 2\.6\.99 exactly \(\.ruby-version\), and this machine's ruby is \d+\.\d+\.\d+: devbox runs apps with the host's ruby\. Install Ruby 2\.6\.99 on the machine, or ask for the version line \(2\.6\) in \.ruby-version\./,
    );
  });

  it('-b with a buildpack URL is refused: devbox does not download buildpacks, and says to clone it', async () => {
    const r = await devbox(box.home, ['push', 'urlbp', '-p', path.join(FIXTURES, 'php-hello'), '-b', 'https://github.com/cloudfoundry/php-buildpack.git#v4.6.0'], { timeoutMs: 60_000 });
    assert.equal(r.exitCode, 1, show(r));
    assert.match(
      r.stderr,
      /^Error staging application: Buildpack 'https:\/\/github\.com\/cloudfoundry\/php-buildpack\.git#v4\.6\.0' is a URL, and devbox cannot download buildpacks: clone it \(git clone https:\/\/github\.com\/cloudfoundry\/php-buildpack\.git\) and push with -b and the clone's directory, or use a built-in one: java, ruby, nodejs, go, python, php, staticfile, binary\.$/m,
    );
  });

  it('cf buildpacks: the eight built-ins in detection order on the stack host; cf stacks: host, the machine\'s distribution', async () => {
    const rows = table(await cf.ok(['buildpacks']), 'position');
    assert.deepEqual(
      rows,
      BUILTIN_ORDER.map((name, i) => ({ position: String(i + 1), name, stack: 'host', enabled: 'true', locked: 'false', filename: `${name}_buildpack` })),
    );
    assert.deepEqual(table(await cf.ok(['stacks']), 'name'), [{ name: 'host', description: `The host machine: ${prettyName()}` }]);
  });

  it('devbox buildpacks and devbox stacks, as tables and as JSON', async () => {
    const [buildpacks, buildpacksJson, stacks, stacksJson] = await Promise.all([
      devbox(box.home, ['buildpacks']),
      devbox(box.home, ['buildpacks', '--json']),
      devbox(box.home, ['stacks']),
      devbox(box.home, ['stacks', '--json']),
    ]);
    for (const r of [buildpacks, buildpacksJson, stacks, stacksJson]) assert.equal(r.exitCode, 0, show(r));
    assert.match(buildpacks.stdout, /^Getting buildpacks as admin\.\.\.\n\nposition {3}name {9}stack {3}enabled {3}locked {3}state {3}filename\n1 {10}java {9}host {4}true {6}false {4}READY {3}java_buildpack\n2 {10}ruby /);
    assert.deepEqual(table(buildpacks.stdout, 'position').map((b) => b.name), [...BUILTIN_ORDER]);
    const listed = JSON.parse(buildpacksJson.stdout) as { name: string; position: number; stack: string; state: string; enabled: boolean; locked: boolean }[];
    assert.deepEqual(
      listed.map(({ name, position, stack, state, enabled, locked }) => ({ name, position, stack, state, enabled, locked })),
      BUILTIN_ORDER.map((name, i) => ({ name, position: i + 1, stack: 'host', state: 'READY', enabled: true, locked: false })),
    );
    assert.equal(stacks.stdout, `Getting stacks as admin...\n\nname   description\nhost   The host machine: ${prettyName()}`);
    const [stack] = JSON.parse(stacksJson.stdout) as { name: string; description: string; default: boolean }[];
    assert.deepEqual({ name: stack.name, description: stack.description, default: stack.default }, { name: 'host', description: `The host machine: ${prettyName()}`, default: true });
  });
});
