// What the CLI prints at a terminal and in a pipe (issue 22): colours as cf's (ERR log lines red, the
// names of `logs`' header bold cyan) at a terminal only and never with NO_COLOR or CF_COLOR=false;
// progress at any terminal width (one that reports 0 columns is drawn at 80, not one character per
// line). The functions alone, then the built CLI against a real box, at a real pseudo-terminal made by
// util-linux `script` (whose terminal, with no terminal on its own stdin, reports 0 columns).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { formatLogLine, logColor } from '../../src/cli/log-format.js';
import { colorEnabled, paint } from '../../src/cli/output.js';
import { FALLBACK_COLUMNS, liveProgress, progressColumns, sizeTerminal } from '../../src/cli/steps.js';
import type { LogEnvelope } from '../../src/runtime/common/bus-messages.js';
import { freePort } from '../../src/runtime/common/net.js';
import { cleanupBox, DEVBOX_BIN, devbox, tempHome, type DevboxResult } from '../helpers/devbox.js';

const ESC = '\u001b';
const RED = `${ESC}[31m`;
const CYAN_BOLD = `${ESC}[1;36m`;
const RESET = `${ESC}[0m`;
/** The text a terminal would show, roughly: escape sequences and carriage returns taken out. */
// eslint-disable-next-line no-control-regex -- escape sequences are what is taken out
const plain = (text: string) => text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\r/g, '');

const envelope = (fields: Partial<LogEnvelope>): LogEnvelope => ({
  timestamp: Date.UTC(2026, 10, 21, 10) * 1e6,
  app_guid: 'a',
  source_type: 'APP/PROC/WEB',
  source_instance: '0',
  message_type: 'OUT',
  message: 'listening on 8081',
  ...fields,
});

describe('at a terminal and in a pipe', function () {
  this.timeout(30_000);

  describe('colour', () => {
    it('only at a terminal, not with NO_COLOR, not with CF_COLOR false', () => {
      assert.equal(colorEnabled({ isTTY: true }, {}), true);
      assert.equal(colorEnabled({ isTTY: false }, {}), false);
      assert.equal(colorEnabled({}, { CF_COLOR: 'true' }), false, 'never in a pipe');
      assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
      assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '' }), true, 'no-color.org: an empty NO_COLOR is unset');
      for (const value of ['false', 'FALSE', 'f', '0']) assert.equal(colorEnabled({ isTTY: true }, { CF_COLOR: value }), false, value);
      for (const value of ['true', '1', '']) assert.equal(colorEnabled({ isTTY: true }, { CF_COLOR: value }), true, value);
      assert.equal(logColor({ isTTY: true }, { CF_COLOR: 'false' }), false);
      assert.equal(paint('31', 'x', true), `${RED}x${RESET}`);
      assert.equal(paint('31', 'x', false), 'x');
      assert.equal(paint('31', '', true), '');
    });

    it("an ERR log line is red from its time to its end, as cf's log_message.go paints it; OUT never", () => {
      assert.equal(formatLogLine(envelope({ message_type: 'ERR', message: 'boom' }), { color: true }), `   ${RED}2026-11-21T10:00:00.00+0000 [APP/PROC/WEB/0] ERR boom${RESET}`);
      const lines = formatLogLine(envelope({ message_type: 'ERR', message: 'first\nsecond' }), { color: true }).split('\n');
      assert.equal(lines[1], `   ${RED}${' '.repeat('2026-11-21T10:00:00.00+0000 [APP/PROC/WEB/0] ERR '.length)}second${RESET}`);
      assert.equal(formatLogLine(envelope({}), { color: true }), '   2026-11-21T10:00:00.00+0000 [APP/PROC/WEB/0] OUT listening on 8081');
      assert.equal(formatLogLine(envelope({ message_type: 'ERR', message: 'boom' })), '   2026-11-21T10:00:00.00+0000 [APP/PROC/WEB/0] ERR boom');
    });
  });

  describe('terminal width', () => {
    it('0 or no columns is drawn at 80; under 20 columns the steps are plain lines', () => {
      assert.equal(progressColumns(0), FALLBACK_COLUMNS);
      assert.equal(progressColumns(undefined), FALLBACK_COLUMNS);
      assert.equal(progressColumns(Number.NaN), FALLBACK_COLUMNS);
      assert.equal(progressColumns(132), 132);
      assert.equal(progressColumns(20), 20);
      assert.equal(progressColumns(19), undefined);
      assert.equal(liveProgress({ isTTY: true, columns: 0 }, {}), true);
      assert.equal(liveProgress({ isTTY: true, columns: 10 }, {}), false);
      assert.equal(liveProgress({ isTTY: true, columns: 120 }, { CI: 'true' }), false);
      assert.equal(liveProgress({ isTTY: false, columns: 120 }, {}), false);
    });

    it('a terminal reporting 0 columns is given 80, again after a resize to 0; a real width is kept', () => {
      const listeners: (() => void)[] = [];
      const terminal = { isTTY: true, columns: 0, on: (_event: 'resize', listener: () => void) => listeners.push(listener) };
      sizeTerminal(terminal);
      assert.equal(terminal.columns, 80);
      sizeTerminal(terminal);
      assert.equal(listeners.length, 1, 'one resize listener, however often');
      terminal.columns = 0; // what Node sets on SIGWINCH before it emits 'resize'
      listeners[0]();
      assert.equal(terminal.columns, 80);
      terminal.columns = 132;
      listeners[0]();
      assert.equal(terminal.columns, 132);
      const pipe = { isTTY: false, columns: 0 };
      sizeTerminal(pipe);
      assert.equal(pipe.columns, 0, 'a pipe is left alone');
    });
  });

  describe('the built CLI against a box', function () {
    this.timeout(180_000);
    const nodeHello = path.resolve(import.meta.dirname, '../fixtures/apps/node-hello');
    let home: string;
    let routerPort: number;
    const hasScript = (() => {
      try {
        execFileSync('script', ['--version'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();

    /** `devbox ARGS` at a pseudo-terminal of 0 columns (util-linux `script`), colour allowed unless `env` says otherwise. */
    const atTerminal = async (args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<DevboxResult> => {
      const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
      const command = [process.execPath, DEVBOX_BIN, ...args].map(quote).join(' ');
      const r = await execa('script', ['-qec', command, '/dev/null'], {
        env: { DEVBOX_HOME: home, NO_COLOR: '', CF_COLOR: '', CI: '', ...env },
        extendEnv: true,
        stdin: 'ignore',
        reject: false,
        timeout: timeoutMs,
      });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
    const ok = async (args: string[], env: Record<string, string> = {}) => {
      const r = await devbox(home, args, { env, timeoutMs: 60_000 });
      assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: ${show(r)}`);
      return r.stdout;
    };

    before(async function () {
      assert.ok(hasScript, 'these tests need util-linux `script` (Debian: apt-get install bsdutils) for a pseudo-terminal');
      home = tempHome('devbox-terminal-');
      routerPort = await freePort();
      // `up -d` at a terminal that reports 0 columns: its progress (listr2) is drawn at 80.
      const up = await atTerminal(['up', '-d', '--port', String(routerPort), '--tls-port', String(await freePort())]);
      assert.equal(up.exitCode, 0, show(up));
      assert.match(plain(up.stdout), /router \(pid \d+, \d+ ms\)/, `progress lines whole:\n${plain(up.stdout)}`);
      assert.match(plain(up.stdout), /devbox is up in \d+\.\d+ s/);
    });
    after(async () => {
      if (home) await cleanupBox(home);
    });

    it('push at a 0-column terminal draws its steps on whole lines', async () => {
      const push = await atTerminal(['push', 'hello', '-p', nodeHello]);
      assert.equal(push.exitCode, 0, show(push));
      const text = plain(push.stdout);
      assert.match(text, /Uploading files: \d+ new files? \(/, text);
      assert.match(text, /^#0 {3}running /m);
      assert.ok(!/^.$/m.test(text.split('\n').filter((l) => l.trim() !== '').slice(0, 5).join('\n')), 'not one character per line');
    });

    it('logs: at a terminal ERR lines red and the header names bold cyan; none with NO_COLOR, CF_COLOR=false, or in a pipe', async () => {
      // An ERR line of the app's: a task (through cf's alias `rt`) writing to stderr.
      await ok(['rt', 'hello', '--command', 'echo oops-on-stderr >&2', '--name', 'noisy', '--wait']);
      const colored = await atTerminal(['logs', 'hello', '--recent']);
      assert.equal(colored.exitCode, 0, show(colored));
      assert.ok(colored.stdout.includes(`Retrieving logs for app ${CYAN_BOLD}hello${RESET} in org ${CYAN_BOLD}devbox${RESET} / space ${CYAN_BOLD}dev${RESET} as ${CYAN_BOLD}admin${RESET}...`), colored.stdout);
      assert.match(colored.stdout, new RegExp(`\\n {3}\\u001b\\[31m\\S+ \\[APP/TASK/noisy/0\\] ERR oops-on-stderr\\u001b\\[0m`), colored.stdout);
      assert.match(plain(colored.stdout), / \[APP\/PROC\/WEB\/0\] OUT listening on/);
      assert.doesNotMatch(colored.stdout, new RegExp(`${RED.replace('[', '\\[')}[^\\n]* OUT `), 'OUT lines are not red');

      for (const env of [{ NO_COLOR: '1' }, { CF_COLOR: 'false' }] as Record<string, string>[]) {
        const r = await atTerminal(['logs', 'hello', '--recent'], env);
        assert.equal(r.exitCode, 0, show(r));
        assert.match(r.stdout, /ERR oops-on-stderr/);
        assert.ok(!r.stdout.includes(ESC), `${JSON.stringify(env)}: ${JSON.stringify(r.stdout.slice(0, 300))}`);
      }
      const piped = await devbox(home, ['logs', 'hello', '--recent'], { env: { NO_COLOR: '', CF_COLOR: 'true' } });
      assert.equal(piped.exitCode, 0, show(piped));
      assert.match(piped.stdout, /ERR oops-on-stderr/);
      assert.ok(!piped.stdout.includes(ESC), 'never in a pipe');
    });

    it('aliases against the box: a lists the app, t shows the target', async () => {
      assert.match(await ok(['a']), /^hello\s+started\s+web:1\/1\s/m);
      assert.deepEqual((JSON.parse(await ok(['a', '--json'])) as { name: string }[]).map((a) => a.name), ['hello']);
      assert.match(await ok(['t']), /^org:\s+devbox$/m);
    });

    it("--json: the API's refusal is JSON on stdout, nothing else; status --json has no secret", async () => {
      const missing = await devbox(home, ['app', 'nosuch', '--json']);
      assert.equal(missing.exitCode, 1, show(missing));
      assert.deepEqual(JSON.parse(missing.stdout), { error: { message: "App 'nosuch' not found. 'devbox apps' lists the apps in org devbox / space dev.", exit_code: 1 } });
      const taskless = await devbox(home, ['run-task', 'hello', '--json']);
      assert.equal(taskless.exitCode, 2, show(taskless));
      assert.equal(JSON.parse(taskless.stdout).error.exit_code, 2);

      const config = JSON.parse(fs.readFileSync(path.join(home, 'config.json'), 'utf8')) as { bus: { token: string }; status: { password: string } };
      const status = await devbox(home, ['status', '--json']);
      assert.equal(status.exitCode, 0, show(status));
      const parsed = JSON.parse(status.stdout) as { nats_url: string };
      assert.match(parsed.nats_url, /^nats:\/\/\[redacted\]@127\.0\.0\.1:\d+$/);
      for (const secret of [config.bus.token, config.status.password]) assert.ok(!status.stdout.includes(secret), 'no secret in status --json');
    });

    it('a droplet reused twice still names the time of the staging that made it', async () => {
      const reuses = [];
      for (let i = 0; i < 2; i++) {
        const out = await ok(['push', 'hello', '-p', nodeHello]);
        const m = /reusing the droplet staged (\S+) instead of staging again/.exec(out);
        assert.ok(m, out);
        reuses.push(m[1]);
      }
      assert.equal(reuses[1], reuses[0], 'the second reuse names the original staging, not the first reuse');
      assert.ok(Date.parse(reuses[0]) < Date.now() - 100, reuses[0]);
    });
  });
});
