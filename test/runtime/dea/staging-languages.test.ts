// The go, ruby and php buildpacks on a real DEA (issue 21), with the host's toolchains: Go modules
// (vendored ones offline), a Godep app in GOPATH mode, Sinatra with the gems of Debian's packages
// (`bundle install --local`), a gem of the app's vendor/cache installed into the droplet and cached,
// a PHP page served from its web directory; each staged, started and asked. Version pins the host
// does not satisfy (an exact one fails, a line or range warns), and a PATH without the toolchain:
// the buildpacks find the host's toolchains on the staging's PATH, which an app's own PATH replaces.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILTIN_ORDER } from '../../../src/runtime/dea/staging/buildpacks.js';
import { untar } from '../../helpers/archives.js';
import { sinatraApp } from '../../fixtures/apps/ruby-sinatra/prepare.js';
import { FIXTURES, get, newGuid, packageOf, stageApp, startHarness, type Harness, startInstance } from './helpers.js';

/** A PATH of real directories without go, ruby, bundler or php (nor bash: the buildpacks use /bin/bash). */
const NO_TOOLCHAINS = '/usr/sbin:/sbin';

describe('dea staging: the go, ruby and php buildpacks', function () {
  this.timeout(120_000);
  let h: Harness;
  let scratch: string;

  before(async () => {
    h = await startHarness();
    scratch = fs.mkdtempSync(path.join(h.home, 'scratch-'));
  });
  after(async () => h?.close());

  const appDir = (name: string, files: Record<string, string>, from?: string) => {
    const dir = path.join(scratch, `${name}-${newGuid()}`);
    if (from) fs.cpSync(from, dir, { recursive: true });
    for (const [file, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), content);
    }
    return dir;
  };
  const stg = (guid: string) => h.rec.logs(guid, 'STG');
  const show = (guid: string, reply: unknown) => `${JSON.stringify(reply)}\n${h.rec.logs(guid).join('\n')}`;
  /** Starts the droplet and answers what its instance says at `at`. */
  const ask = async (guid: string, dropletGuid: string, at = '/') => {
    startInstance(h, guid, dropletGuid);
    const reg = await h.rec.wait('router.register', (d) => d.app === guid, 30_000);
    return get(reg.data.port, at);
  };
  /** The version a buildpack's `Using <tool> X.Y.Z from the host` line names. */
  const hostVersion = (guid: string, tool: string) => {
    const found = new RegExp(`Using ${tool} (\\d+\\.\\d+\\.\\d+)`).exec(stg(guid).join('\n'))?.[1];
    assert.ok(found, `no 'Using ${tool}' line:\n${stg(guid).join('\n')}`);
    return found;
  };
  const line = (version: string) => version.split('.').slice(0, 2).join('.');

  describe('go', () => {
    let goVersion: string;

    it('a Go module with a Procfile naming its binary: built with the host\'s go, the binary on the PATH, caches kept', async () => {
      const guid = newGuid();
      const pkg = await packageOf(path.join(FIXTURES, 'go-hello'));
      const { reply, dropletGuid } = await stageApp(h, guid, pkg, {}, 110_000);
      assert.equal(reply.error, undefined, show(guid, reply));
      goVersion = hostVersion(guid, 'go');
      assert.equal(reply.detected_buildpack, 'go');
      // The Procfile's command (the binary's bare name) wins over the buildpack's ./bin/go-hello.
      assert.deepEqual(reply.process_types, { web: 'go-hello' });
      assert.ok(stg(guid).includes('STG/0 OUT        Installed go-hello in bin/, on the PATH at run time'), stg(guid).join('\n'));
      const files = await untar(h.controller.droplets.get(dropletGuid)!);
      assert.ok(files.has('app/bin/go-hello'), [...files.keys()].join(' '));
      assert.match(files.get('app/.profile.d/go.sh')!.content, /export PATH="\$HOME\/bin:\$PATH"/);
      const answer = await ask(guid, dropletGuid);
      assert.equal(answer.body, `hello from go: built with go${goVersion}, started as go-hello\n`);

      // Go's module and build caches are the app's, kept for the next staging.
      const cache = path.join(h.dea.paths.cache, guid, 'go');
      assert.ok(fs.readdirSync(path.join(cache, 'go-build')).length > 0, 'the build cache is kept');
      assert.ok(fs.existsSync(path.join(cache, 'go-mod')));
      const again = await stageApp(h, guid, pkg, {}, 110_000);
      assert.equal(again.reply.error, undefined, show(guid, again.reply));
    });

    it('without a Procfile: ./bin/NAME of the main package; vendored modules are built offline', async () => {
      const dir = appDir('go-vendored', {
        'go.mod': 'module example.com/go-vendored/v2\n\ngo 1.18\n\nrequire example.com/dep v1.0.0\n',
        'vendor/modules.txt': '# example.com/dep v1.0.0\n## explicit\nexample.com/dep\n',
        'vendor/example.com/dep/dep.go': 'package dep\n\n// Text is what the vendored module says.\nfunc Text() string { return "hello from a vendored module" }\n',
        'main.go': 'package main\n\nimport (\n\t"fmt"\n\t"net/http"\n\t"os"\n\n\t"example.com/dep"\n)\n\nfunc main() {\n\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, dep.Text()) })\n\thttp.ListenAndServe(os.Getenv("VCAP_APP_HOST")+":"+os.Getenv("PORT"), nil)\n}\n',
      });
      const guid = newGuid();
      // GOPROXY=off: nothing may be downloaded.
      const { reply, dropletGuid } = await stageApp(h, guid, await packageOf(dir), { environment: { GOPROXY: 'off' } }, 110_000);
      assert.equal(reply.error, undefined, show(guid, reply));
      // The binary of module example.com/go-vendored/v2 is go-vendored, as go install names it.
      assert.equal(reply.start_command, './bin/go-vendored');
      assert.ok(stg(guid).includes('STG/0 OUT        Using the vendored modules (vendor/): nothing is downloaded'), stg(guid).join('\n'));
      assert.equal((await ask(guid, dropletGuid)).body, 'hello from a vendored module\n');
    });

    it('a Godep app (no go.mod) is built in GOPATH mode under Godeps.json\'s ImportPath', async () => {
      const dir = appDir('godeps', {
        'Godeps/Godeps.json': JSON.stringify({ ImportPath: 'github.com/example/godeps-app', Deps: [] }),
        'main.go': 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from GOPATH mode") }\n',
      });
      const guid = newGuid();
      const { reply } = await stageApp(h, guid, await packageOf(dir), {}, 110_000);
      assert.equal(reply.error, undefined, show(guid, reply));
      assert.equal(reply.start_command, './bin/godeps-app');
      assert.ok(stg(guid).includes('STG/0 OUT        Import path github.com/example/godeps-app (GOPATH mode: the app has no go.mod)'), stg(guid).join('\n'));
    });

    it('an exact Go the host lacks (GOVERSION) fails; a newer go directive is a warning and go still builds', async () => {
      assert.ok(goVersion, 'the first test found the host\'s go');
      const main = 'package main\n\nfunc main() {}\n';
      const exact = newGuid();
      const newer = newGuid();
      const [major, minor] = goVersion.split('.').map(Number);
      const wanted = `${major}.${minor + 50}`;
      const [pinned, built] = await Promise.all([
        stageApp(h, exact, await packageOf(appDir('go-exact', { 'go.mod': 'module example.com/pinned\n\ngo 1.18\n', 'main.go': main })), { environment: { GOVERSION: `go${line(goVersion)}.999` } }),
        stageApp(h, newer, await packageOf(appDir('go-newer', { 'go.mod': `module example.com/newer\n\ngo ${wanted}\n`, 'main.go': main })), {}, 110_000),
      ]);
      assert.equal(pinned.reply.error?.id, 'BuildpackCompileFailed', show(exact, pinned.reply));
      assert.equal(
        pinned.reply.error.message,
        `App staging failed in the buildpack compile phase (bin/compile of go exited with status 1): The app asks for Go ${line(goVersion)}.999 exactly (the GOVERSION environment variable), and this machine's go is ${goVersion}: devbox builds apps with the host's go. Install Go ${line(goVersion)}.999 on the machine, or ask for the version line (go${line(goVersion)}.x).`,
      );
      assert.ok(
        stg(newer).includes(`STG/0 OUT        **WARNING** The app's go.mod asks for Go ${wanted} or later (its go directive), and this machine's go is ${goVersion}: go builds it with ${goVersion}, which fails if the code needs Go ${wanted}. Install Go ${wanted} or later on the machine (Debian: golang-${wanted}-go where it exists, first on the DEA's PATH).`),
        show(newer, built.reply),
      );
    });
  });

  describe('ruby', () => {
    let rubyVersion: string;

    it('a Sinatra app whose gems are Debian\'s: bundle install --local in deployment mode, rackup on $PORT', async () => {
      const dir = await sinatraApp(path.join(scratch, 'sinatra'));
      const guid = newGuid();
      const { reply, dropletGuid } = await stageApp(h, guid, await packageOf(dir), {}, 110_000);
      assert.equal(reply.error, undefined, show(guid, reply));
      rubyVersion = hostVersion(guid, 'ruby');
      assert.equal(reply.detected_buildpack, 'ruby');
      assert.equal(reply.start_command, 'bundle exec rackup config.ru -p $PORT -o ${VCAP_APP_HOST:-0.0.0.0}');
      assert.ok(stg(guid).includes('STG/0 OUT -----> Installing gems with bundler (deployment mode: frozen to Gemfile.lock; without development, test)'), stg(guid).join('\n'));
      assert.ok(stg(guid).some((l) => /^STG\/0 OUT {8}Using sinatra \d/.test(l)), stg(guid).join('\n'));
      const files = await untar(h.controller.droplets.get(dropletGuid)!);
      const config = files.get('app/.bundle/config')?.content ?? '';
      for (const setting of ['BUNDLE_PATH__SYSTEM: "true"', 'BUNDLE_WITHOUT: "development:test"', 'BUNDLE_FROZEN: "true"']) assert.ok(config.includes(setting), config);
      const answer = await ask(guid, dropletGuid);
      assert.match(answer.body, new RegExp(`^hello from sinatra 3\\.\\d+\\.\\d+ on ruby ${rubyVersion.replace(/\./g, '\\.')}, rack 2(\\.\\d+)+, production\\n$`));
    });

    it('a gem of the app\'s vendor/cache is installed into the droplet and restored from the cache next time', async () => {
      const src = appDir('greeting-gem', {
        'devbox-greeting.gemspec': "Gem::Specification.new do |s|\n  s.name = 'devbox-greeting'\n  s.version = '1.0.0'\n  s.summary = 'A greeting'\n  s.authors = ['devbox']\n  s.license = 'Apache-2.0'\n  s.files = ['lib/devbox_greeting.rb']\nend\n",
        'lib/devbox_greeting.rb': "module DevboxGreeting\n  def self.text\n    'hello from a gem of vendor/cache'\n  end\nend\n",
      });
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-gem-home-'));
      try {
        execFileSync('gem', ['build', 'devbox-greeting.gemspec'], { cwd: src, env: { ...process.env, HOME: home }, stdio: 'ignore', timeout: 60_000 });
      } finally {
        fs.rmSync(home, { recursive: true, force: true });
      }
      const dir = appDir('ruby-vendored', {
        Gemfile: "source 'https://rubygems.org'\n\ngem 'devbox-greeting'\ngem 'rack', '~> 2.2'\ngem 'webrick'\n",
        'config.ru': "require 'devbox_greeting'\nrun ->(_env) { [200, { 'content-type' => 'text/plain' }, [DevboxGreeting.text]] }\n",
      });
      fs.mkdirSync(path.join(dir, 'vendor', 'cache'), { recursive: true });
      fs.copyFileSync(path.join(src, 'devbox-greeting-1.0.0.gem'), path.join(dir, 'vendor', 'cache', 'devbox-greeting-1.0.0.gem'));
      const guid = newGuid();
      const pkg = await packageOf(dir);
      const { reply, dropletGuid } = await stageApp(h, guid, pkg, {}, 110_000);
      assert.equal(reply.error, undefined, show(guid, reply));
      assert.ok(stg(guid).includes('STG/0 OUT        Installing devbox-greeting 1.0.0'), stg(guid).join('\n'));
      const files = await untar(h.controller.droplets.get(dropletGuid)!);
      assert.ok(files.has('app/vendor/bundle/ruby/' + fs.readdirSync(path.join(h.dea.paths.cache, guid, 'ruby', 'bundle', 'ruby'))[0] + '/gems/devbox-greeting-1.0.0/lib/devbox_greeting.rb'), [...files.keys()].filter((f) => f.includes('vendor/bundle')).join(' '));
      assert.equal((await ask(guid, dropletGuid)).body, 'hello from a gem of vendor/cache');

      // The same app staged again (its guid): the gem comes from its cache.
      const second = await stageApp(h, guid, pkg, {}, 110_000);
      assert.equal(second.reply.error, undefined, show(guid, second.reply));
      assert.ok(stg(guid).includes('STG/0 OUT -----> Restoring the gems an earlier staging installed (those the machine lacks) from the cache'), stg(guid).join('\n'));
      assert.ok(stg(guid).includes('STG/0 OUT        Using devbox-greeting 1.0.0'), stg(guid).join('\n'));
    });

    it('a gem that neither the machine nor the Gemfile\'s source has fails, saying where gems come from', async () => {
      // A source nothing listens on: refused at once.
      const dir = appDir('ruby-missing', { Gemfile: "source 'http://127.0.0.1:9'\n\ngem 'devbox-no-such-gem'\n", 'config.ru': 'run ->(_env) { [200, {}, []] }\n' });
      const guid = newGuid();
      const { reply } = await stageApp(h, guid, await packageOf(dir), { environment: { BUNDLE_RETRY: '0' } }, 110_000);
      assert.equal(reply.error?.id, 'BuildpackCompileFailed', show(guid, reply));
      assert.match(reply.error.message, /: bundle install could not get the app's gems \(see above\)\. The ones this machine lacks must come from the Gemfile's source \(is it reachable\?\), from vendor\/cache in the app \(bundle package\), or from Debian's packages \(apt-get install ruby-NAME\)\.$/);
    });

    it('an exact .ruby-version the host lacks fails; a version line it lacks warns', async () => {
      assert.ok(rubyVersion, 'the first test found the host\'s ruby');
      const app = { Gemfile: "source 'https://rubygems.org'\n", 'config.ru': 'run ->(_env) { [200, {}, []] }\n' };
      const exact = newGuid();
      const other = newGuid();
      const [major, minor] = rubyVersion.split('.').map(Number);
      const [pinned, warned] = await Promise.all([
        stageApp(h, exact, await packageOf(appDir('ruby-exact', { ...app, '.ruby-version': `ruby-${line(rubyVersion)}.99\n` }))),
        stageApp(h, other, await packageOf(appDir('ruby-line', { ...app, '.ruby-version': `${major}.${minor + 5}\n` })), {}, 110_000),
      ]);
      assert.equal(pinned.reply.error?.id, 'BuildpackCompileFailed', show(exact, pinned.reply));
      assert.equal(
        pinned.reply.error.message,
        `App staging failed in the buildpack compile phase (bin/compile of ruby exited with status 1): The app asks for Ruby ${line(rubyVersion)}.99 exactly (.ruby-version), and this machine's ruby is ${rubyVersion}: devbox runs apps with the host's ruby. Install Ruby ${line(rubyVersion)}.99 on the machine, or ask for the version line (${line(rubyVersion)}) in .ruby-version.`,
      );
      assert.equal(warned.reply.error, undefined, show(other, warned.reply));
      assert.ok(
        stg(other).includes(`STG/0 OUT        **WARNING** The app asks for Ruby ${major}.${minor + 5} (.ruby-version), and this machine's ruby is ${rubyVersion}: the app runs with ${rubyVersion}. Install Ruby ${major}.${minor + 5} on the machine to run it with that version.`),
        stg(other).join('\n'),
      );
    });
  });

  describe('php', () => {
    let phpVersion: string;

    it('a PHP page: php -S on $PORT serving public/, nothing outside it', async () => {
      const guid = newGuid();
      const { reply, dropletGuid } = await stageApp(h, guid, await packageOf(path.join(FIXTURES, 'php-hello')));
      assert.equal(reply.error, undefined, show(guid, reply));
      phpVersion = hostVersion(guid, 'PHP');
      assert.equal(reply.detected_buildpack, 'php');
      assert.equal(reply.start_command, 'php -S ${VCAP_APP_HOST:-0.0.0.0}:$PORT -t public');
      assert.ok(stg(guid).includes('STG/0 OUT        Serving public/'), stg(guid).join('\n'));
      const page = await ask(guid, dropletGuid, '/any/path');
      assert.equal(page.status, 200);
      assert.match(page.body, new RegExp(`^hello from php ${phpVersion.replace(/\./g, '\\.')}[^ ]* \\(cli-server\\) at /any/path\\n`));
      const reg = await h.rec.wait('router.register', (d) => d.app === guid);
      assert.equal((await get(reg.data.port, '/notes.txt')).status, 404);
      assert.equal((await get(reg.data.port, '/composer.json')).status, 404);
    });

    it('composer.json with packages: composer installs them, and without composer the staging says what to install', async () => {
      const dir = appDir('php-packages', { 'composer.json': JSON.stringify({ require: { php: '>=7.4', 'monolog/monolog': '^3.0' } }), 'index.php': '<?php echo "hi";\n' });
      const guid = newGuid();
      const { reply } = await stageApp(h, guid, await packageOf(dir), {}, 110_000);
      assert.equal(reply.error?.id, 'BuildpackCompileFailed', show(guid, reply));
      let composer = true;
      try {
        execFileSync('bash', ['-c', 'command -v composer'], { stdio: 'ignore' });
      } catch {
        composer = false;
      }
      if (composer) {
        // A machine with composer runs it; Packagist is not reachable from the tests' machines.
        assert.ok(stg(guid).some((l) => l.startsWith('STG/0 OUT -----> Installing dependencies with composer')), show(guid, reply));
      } else {
        assert.equal(
          reply.error.message,
          'App staging failed in the buildpack compile phase (bin/compile of php exited with status 1): composer.json requires packages (monolog/monolog), and composer is not installed on this machine: install it (apt-get install composer), or push the app with its vendor/ directory (composer install --no-dev), then push again.',
        );
      }
      // With its vendor/ pushed, composer is not needed.
      fs.mkdirSync(path.join(dir, 'vendor'));
      fs.writeFileSync(path.join(dir, 'vendor', 'autoload.php'), '<?php\n');
      const vendored = newGuid();
      const built = await stageApp(h, vendored, await packageOf(dir));
      assert.equal(built.reply.error, undefined, show(vendored, built.reply));
      assert.ok(stg(vendored).includes("STG/0 OUT -----> vendor/ was pushed with the app; not running composer"), stg(vendored).join('\n'));
    });

    it('an exact PHP the host lacks fails, a range it does not satisfy warns, an extension it lacks fails naming the package', async () => {
      assert.ok(phpVersion, 'the first test found the host\'s php');
      const [exact, range, ext] = [newGuid(), newGuid(), newGuid()];
      const major = Number(phpVersion.split('.')[0]);
      const [pinned, warned, lacking] = await Promise.all([
        stageApp(h, exact, await packageOf(appDir('php-exact', { 'composer.json': JSON.stringify({ require: { php: `${line(phpVersion)}.999` } }), 'index.php': '<?php\n' }))),
        stageApp(h, range, await packageOf(appDir('php-range', { 'composer.json': JSON.stringify({ require: { php: `^${major - 1}.0` } }), 'index.php': '<?php\n' }))),
        stageApp(h, ext, await packageOf(appDir('php-ext', { 'composer.json': JSON.stringify({ require: { 'ext-devboxnosuchext': '*', 'ext-pdo_mysql': '*' } }), 'index.php': '<?php\n' }))),
      ]);
      assert.equal(pinned.reply.error?.id, 'BuildpackCompileFailed', show(exact, pinned.reply));
      assert.equal(
        pinned.reply.error.message,
        `App staging failed in the buildpack compile phase (bin/compile of php exited with status 1): The app asks for PHP ${line(phpVersion)}.999 exactly (require.php in composer.json), and this machine's php is ${phpVersion}: devbox runs apps with the host's php. Install PHP ${line(phpVersion)}.999 on the machine, or ask for a range ("^${line(phpVersion)}").`,
      );
      assert.equal(warned.reply.error, undefined, show(range, warned.reply));
      assert.ok(
        stg(range).includes(`STG/0 OUT        **WARNING** The app asks for PHP ^${major - 1}.0 (require.php in composer.json), and this machine's php is ${phpVersion}: the app runs with ${phpVersion}. Install a PHP that satisfies ^${major - 1}.0 on the machine to run it with that version.`),
        stg(range).join('\n'),
      );
      assert.equal(lacking.reply.error?.id, 'BuildpackCompileFailed', show(ext, lacking.reply));
      assert.match(lacking.reply.error.message, /: composer\.json requires the PHP extensions devboxnosuchext( pdo_mysql)?, which this machine's php does not have: install them \(apt-get install php-devboxnosuchext( php-mysql)?\), then push again\.$/);
    });
  });

  it('a PATH without the toolchain (the app\'s own PATH replaces the staging\'s): staging fails naming the Debian package', async () => {
    const cases: [string, string, Record<string, string>][] = [
      ['go', 'go is not installed on this machine (no go on the PATH /usr/sbin:/sbin), and devbox\'s go buildpack builds apps with the host\'s go: install it (apt-get install golang-go), then push again.', { 'go.mod': 'module example.com/x\n\ngo 1.18\n' }],
      ['ruby', 'ruby is not installed on this machine (no ruby on the PATH /usr/sbin:/sbin), and devbox\'s ruby buildpack runs apps with the host\'s ruby: install it (apt-get install ruby ruby-bundler), then push again.', { Gemfile: "source 'https://rubygems.org'\n" }],
      ['php', 'php is not installed on this machine (no php on the PATH /usr/sbin:/sbin), and devbox\'s php buildpack runs apps with the host\'s php: install it (apt-get install php-cli), then push again.', { 'index.php': '<?php\n' }],
    ];
    await Promise.all(
      cases.map(async ([buildpack, message, files]) => {
        const guid = newGuid();
        // Detected as well: the go, ruby and php detect steps need nothing on the PATH.
        const { reply } = await stageApp(h, guid, await packageOf(appDir(`no-${buildpack}`, files)), { environment: { PATH: NO_TOOLCHAINS } });
        assert.equal(reply.error?.id, 'BuildpackCompileFailed', show(guid, reply));
        assert.equal(reply.error.message, `App staging failed in the buildpack compile phase (bin/compile of ${buildpack} exited with status 1): ${message}`);
      }),
    );
  });

  it("CF's names select every built-in (go_buildpack, ruby_buildpack, php_buildpack, ...), golang too; a URL is refused", async () => {
    const pkg = await packageOf(appDir('named', { 'README.md': 'nothing to detect\n' }));
    await Promise.all(
      [...BUILTIN_ORDER.map((b) => `${b}_buildpack`), 'golang'].map(async (name) => {
        const { reply } = await stageApp(h, newGuid(), pkg, { buildpacks: [name], start_command: 'true' });
        assert.notEqual(reply.error?.id, 'NoSuchBuildpack', `${name}: ${JSON.stringify(reply)}`);
      }),
    );
    const url = await stageApp(h, newGuid(), pkg, { buildpacks: ['https://github.com/cloudfoundry/ruby-buildpack.git#v1.10.0'] });
    assert.equal(url.reply.error?.id, 'NoSuchBuildpack');
    assert.equal(
      url.reply.error.message,
      `Buildpack 'https://github.com/cloudfoundry/ruby-buildpack.git#v1.10.0' is a URL, and devbox cannot download buildpacks: clone it (git clone https://github.com/cloudfoundry/ruby-buildpack.git) and push with -b and the clone's directory, or use a built-in one: ${BUILTIN_ORDER.join(', ')}.`,
    );
    // git's scp form, which a client took for a relative directory and made absolute.
    const scp = await stageApp(h, newGuid(), pkg, { buildpacks: [path.join(scratch, 'git@github.com:cloudfoundry/go-buildpack.git')] });
    assert.match(scp.reply.error?.message ?? '', /^Buildpack 'git@github\.com:cloudfoundry\/go-buildpack\.git' is a URL, and devbox cannot download buildpacks/);
  });
});
