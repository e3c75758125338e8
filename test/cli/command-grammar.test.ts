// cf's command grammar in devbox (issue 22): an unknown command said as typed with the closest
// commands suggested, `help CMD` and `-h`, cf's aliases, and a failure under --json printed as JSON on
// stdout (and nothing else there). The functions alone, the commands in this process, and the built
// CLI (`node bin/run.js`, as a user runs it) with a temporary DEVBOX_HOME and no box.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Config, Flags } from '@oclif/core';
import { ApiRequestError } from '../../src/cli/api/transport.js';
import { CliError, DevboxCommand } from '../../src/cli/base-command.js';
import { editDistance, suggestCommands, typedCommand, unknownCommandMessage } from '../../src/cli/command-not-found.js';
import { errorJson, wantsJson } from '../../src/cli/output.js';
import { devbox, tempHome } from '../helpers/devbox.js';

/** cf 8's aliases (command/common/command_list_v7.go, the same from v8.0.0 to v8.18.4) of the commands devbox has. */
const CF_ALIASES: Record<string, string> = {
  a: 'apps',
  bs: 'bind-service',
  csb: 'create-service-broker',
  csk: 'create-service-key',
  cs: 'create-service',
  csp: 'create-space',
  cups: 'create-user-provided-service',
  sk: 'service-keys',
  uups: 'update-user-provided-service',
  dsk: 'delete-service-key',
  ds: 'delete-service',
  d: 'delete',
  e: 'env',
  l: 'login',
  lo: 'logout',
  m: 'marketplace',
  o: 'orgs',
  p: 'push',
  rg: 'restage',
  rs: 'restart',
  r: 'routes',
  rt: 'run-task',
  s: 'services',
  se: 'set-env',
  st: 'start',
  sp: 'stop',
  t: 'target',
  us: 'unbind-service',
  ue: 'unset-env',
};

const root = path.resolve(import.meta.dirname, '../..');

describe('command grammar', function () {
  this.timeout(30_000);

  describe('an unknown command', () => {
    it('is the first word typed, not the words oclif joined with colons', () => {
      assert.equal(typedCommand('run-tsk:hello:echo:hi', ['run-tsk', 'hello', 'echo', 'hi']), 'run-tsk');
      assert.equal(typedCommand('help:push', []), 'help');
      assert.equal(typedCommand('foo:bar', ['foo:bar']), 'foo:bar', 'a colon typed stays');
      assert.equal(typedCommand('zzz', ['zzz', '--json']), 'zzz');
    });

    it("suggests the commands one edit away, as cf's suggester (two for long names)", () => {
      const commands = ['login', 'logs', 'logout', 'push', 'run-task', 'services', 'service', 'tasks', 'apps', 'app'];
      assert.deepEqual(suggestCommands('logn', commands), ['login', 'logs']);
      assert.deepEqual(suggestCommands('zzz', commands), []);
      assert.deepEqual(suggestCommands('run-tsk', commands), ['run-task']);
      assert.deepEqual(suggestCommands('pussh', commands), ['push']);
      assert.deepEqual(suggestCommands('sevrices', commands), ['services', 'service'], 'a swap is one edit');
      assert.deepEqual(suggestCommands('PUSH', commands), ['push'], 'case');
      assert.equal(editDistance('', 'abc'), 3);
      assert.equal(editDistance('ab', 'ba'), 1);
    });

    it("is said in cf's words", () => {
      assert.equal(unknownCommandMessage('zzz', 'devbox'), "'zzz' is not a registered command. See 'devbox help'.");
      assert.equal(unknownCommandMessage('logn', 'devbox', ['login', 'logs']), "'logn' is not a registered command. See 'devbox help'.\n\nDid you mean?\n    login\n    logs");
    });
  });

  describe("cf's aliases", () => {
    let config: Config;
    before(async () => (config = await Config.load({ root })));

    it("every cf alias of a command devbox has runs that command, and no other alias exists", () => {
      for (const [alias, id] of Object.entries(CF_ALIASES)) {
        assert.ok(config.findCommand(id), `devbox has ${id}`);
        assert.deepEqual(config.findCommand(id)!.aliases, [alias], `${id}'s aliases`);
        assert.ok(config.findCommand(alias), `${alias} resolves`);
      }
      const aliased = config.commands.filter((c) => (c.aliases ?? []).length > 0 && !c.aliases.includes(c.id));
      assert.deepEqual(aliased.map((c) => c.id).sort(), Object.values(CF_ALIASES).sort());
    });

    it('the source declares them (the manifest is built from it)', () => {
      for (const [alias, id] of Object.entries(CF_ALIASES)) {
        const source = fs.readFileSync(path.join(root, 'src/commands', `${id}.ts`), 'utf8');
        assert.match(source, new RegExp(`static override aliases = \\['${alias}'\\];`), id);
      }
    });
  });

  describe('--json failures', () => {
    let config: Config;
    before(async () => (config = await Config.load({ root })));

    abstract class Failing extends DevboxCommand {
      async run(): Promise<void> {}
      async fail(error: Error): Promise<void> {
        await this.catch(error);
      }
    }
    class Listing extends Failing {
      static override flags = { json: Flags.boolean() };
    }
    class Plain extends Failing {}

    /** What `catch` printed on stdout and stderr, and the exit code it set. */
    async function failWith(Command: typeof Listing | typeof Plain, argv: string[], error: Error) {
      const out: string[] = [];
      const err: string[] = [];
      const { write: stdout } = process.stdout;
      const { write: stderr } = process.stderr;
      const exitCode = process.exitCode;
      process.stdout.write = ((chunk: string) => out.push(chunk) > 0) as typeof process.stdout.write;
      process.stderr.write = ((chunk: string) => err.push(chunk) > 0) as typeof process.stderr.write;
      try {
        await new Command(argv, config).fail(error);
        return { out: out.join(''), err: err.join(''), exitCode: process.exitCode };
      } finally {
        process.stdout.write = stdout;
        process.stderr.write = stderr;
        process.exitCode = exitCode;
      }
    }

    it('prints {"error": {message, exit_code}} on stdout instead of FAILED; the reason stays on stderr', async () => {
      const r = await failWith(Listing, ['--json'], new CliError("App 'x' not found."));
      assert.deepEqual(JSON.parse(r.out), { error: { message: "App 'x' not found.", exit_code: 1 } });
      assert.equal(r.err, "App 'x' not found.\n");
      assert.equal(r.exitCode, 1);
    });

    it("adds the API's status, title and detail when the API refused", async () => {
      const r = await failWith(Listing, ['--json'], new ApiRequestError('Assign a droplet before starting this app.', 422, 'CF-UnprocessableEntity', 'Assign a droplet before starting this app.'));
      assert.deepEqual(JSON.parse(r.out), { error: { message: 'Assign a droplet before starting this app.', exit_code: 1, http_status: 422, title: 'CF-UnprocessableEntity', detail: 'Assign a droplet before starting this app.' } });
    });

    it('a usage error under --json: JSON, exit 2', async () => {
      const r = await failWith(Listing, ['--json'], new CliError('Incorrect Usage: the required argument APP_NAME was not provided (and there is no terminal to ask at).', 2));
      assert.equal(JSON.parse(r.out).error.exit_code, 2);
      assert.equal(r.exitCode, 2);
    });

    it('without --json (or --json after --, or a command without the flag): FAILED as before', async () => {
      for (const [Command, argv] of [[Listing, []], [Listing, ['--', '--json']], [Plain, ['--json']]] as const) {
        const r = await failWith(Command, [...argv], new CliError('boom'));
        assert.equal(r.out, 'FAILED\n', `${Command.name} ${argv.join(' ')}`);
        assert.equal(r.err, 'boom\n');
      }
    });

    it('the shape, and --json on the command line', () => {
      assert.deepEqual(JSON.parse(errorJson('m', 2)), { error: { message: 'm', exit_code: 2 } });
      assert.equal(wantsJson(['a', '--json']), true);
      assert.equal(wantsJson(['a', '--', '--json']), false);
      assert.equal(wantsJson(['--jsonx']), false);
    });
  });

  describe('through the built CLI (no box)', () => {
    let home: string;
    before(() => (home = tempHome('devbox-grammar-')));
    after(() => fs.rmSync(home, { recursive: true, force: true }));

    it('an unknown command is shown as typed, with the closest commands, exit 2', async () => {
      const r = await devbox(home, ['run-tsk', 'hello', 'echo', 'hi']);
      assert.equal(r.exitCode, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, "'run-tsk' is not a registered command. See 'devbox help'.\n\nDid you mean?\n    run-task");
      const far = await devbox(home, ['zzz']);
      assert.equal(far.exitCode, 2);
      assert.equal(far.stderr, "'zzz' is not a registered command. See 'devbox help'.");
      assert.equal((await devbox(home, ['help', 'zzz'])).stderr, "'zzz' is not a registered command. See 'devbox help'.");
    });

    it('help push, push -h, push --help and help p show the same help', async () => {
      const help = await devbox(home, ['help', 'push']);
      assert.equal(help.exitCode, 0, help.stderr);
      assert.match(help.stdout, /^Push a new app or sync changes to an existing app$/m);
      assert.match(help.stdout, /^ {2}\$ devbox push \[NAME\]/m);
      assert.match(help.stdout, /^ALIASES\n {2}\$ devbox p$/m);
      for (const args of [['push', '-h'], ['push', '--help'], ['help', 'p']]) {
        const r = await devbox(home, args);
        assert.equal(r.exitCode, 0, `${args.join(' ')}: ${r.stderr}`);
        assert.equal(r.stdout, help.stdout, args.join(' '));
      }
    });

    it('help lists every command once (aliases under their command), help -a too', async () => {
      const help = await devbox(home, ['help']);
      assert.equal(help.exitCode, 0, help.stderr);
      const listed = [...help.stdout.matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]);
      for (const id of ['push', 'apps', 'run-task', 'help', 'up']) assert.ok(listed.includes(id), id);
      for (const alias of Object.keys(CF_ALIASES)) assert.ok(!listed.includes(alias), alias);
      assert.equal((await devbox(home, ['help', '-a'])).stdout, help.stdout);
    });

    it('an alias runs its command', async () => {
      // No box: `a` fails exactly as `apps` does.
      const apps = await devbox(home, ['apps']);
      const a = await devbox(home, ['a']);
      assert.equal(apps.exitCode, 1);
      assert.deepEqual(a, apps);
    });

    it('--json: a failure is JSON on stdout and nothing else there, exit codes as without', async () => {
      for (const command of ['apps', 'status', 'a']) {
        const r = await devbox(home, [command, '--json']);
        assert.equal(r.exitCode, 1, command);
        assert.deepEqual(JSON.parse(r.stdout), { error: { message: `devbox is not running (state in ${home}). Start it with 'devbox up'.`, exit_code: 1 } }, command);
        assert.match(r.stderr, /devbox is not running/);
      }
      const usage = await devbox(home, ['apps', '--json', 'extra']);
      assert.equal(usage.exitCode, 2);
      assert.deepEqual(JSON.parse(usage.stdout), { error: { message: 'Unexpected argument: extra', exit_code: 2 } });
      assert.equal(usage.stderr, "Unexpected argument: extra\nSee 'devbox apps --help'.");
      const missing = await devbox(home, ['app', '--json']);
      assert.equal(missing.exitCode, 2);
      assert.match(JSON.parse(missing.stdout).error.message, /^Incorrect Usage: the required argument APP_NAME was not provided/);
      const unknown = await devbox(home, ['zzz', '--json']);
      assert.equal(unknown.exitCode, 2);
      assert.deepEqual(JSON.parse(unknown.stdout), { error: { message: "'zzz' is not a registered command. See 'devbox help'.", exit_code: 2 } });
    });
  });
});
