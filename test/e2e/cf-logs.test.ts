// `cf logs` end to end: the real cf CLI 8 (helpers/cf.ts: $DEVBOX_CF_CLI) with its
// own CF_HOME against a real `devbox up -d`, reading log-cache in the logs component
// (GET /api/v1/info, GET /api/v1/read/:guid): an app pushed with devbox's CLI, then
// `cf logs APP --recent` shows its API, staging, cell, app and router lines in time order, and a
// streaming `cf logs APP` (which polls read every two seconds) shows a line the app writes later.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResultPromise } from 'execa';
import { request } from '../../src/runtime/common/http.js';
import { waitFor } from '../../src/runtime/common/net.js';
import { devbox, type DevboxResult } from '../helpers/devbox.js';
import { startCfBox, type CfBox } from '../helpers/cf.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const helloNode = path.join(root, 'templates/apps/hello-node');
/** `   2026-11-21T10:00:00.00+0000 [SOURCE/INSTANCE] TYPE message`, as cf prints a line. */
const LINE = /^ {3}(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d\d\+0000) \[([A-Z/]+)\/(\d+)\] (OUT|ERR) (.*)$/;

describe('cf logs (the real cf CLI against a real box)', function () {
  this.timeout(120_000);
  let box: CfBox;
  let stream: ResultPromise | undefined;

  const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  const cfOk = (args: string[]) => box.cf.ok(args);
  /** cf's printed log lines as { source, instance, type, message }. */
  const parsed = (out: string) =>
    out
      .split('\n')
      .map((l) => LINE.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map(([, time, source, instance, type, message]) => ({ time, source, instance, type, message }));
  /** Requests a path of the app through the router (it logs `GET <path>` on stdout). */
  const visit = async (urlPath: string) => {
    const res = await request({ url: `http://hello.localhost:${box.port}${urlPath}`, timeoutMs: 5_000 });
    assert.equal(res.status, 200, res.text);
  };

  before(async function () {
    box = await startCfBox({ prefix: 'devbox-cf-logs-e2e-' });
    const push = await devbox(box.home, ['push', 'hello', '-p', helloNode], { timeoutMs: 90_000 });
    assert.equal(push.exitCode, 0, show(push));
    await box.cf.login();
  });
  after(async () => {
    if (stream?.pid !== undefined) process.kill(stream.pid, 'SIGKILL');
    await box?.close();
  });

  it('cf logs --recent shows the API, staging, cell, app and router lines, oldest first', async () => {
    const marker = `/recent-${randomUUID()}`;
    await visit(marker);
    // The router batches its access lines for a moment: ask until the request's lines are there.
    const lines = await waitFor(
      'cf logs --recent to show the request',
      async () => {
        const out = await cfOk(['logs', 'hello', '--recent']);
        const found = parsed(out);
        return found.some((l) => l.source === 'RTR' && l.message.includes(`"GET ${marker} HTTP/1.1" 200`)) && found;
      },
      { timeoutMs: 20_000, intervalMs: 500 },
    );
    const has = (source: string, pattern: RegExp) => assert.ok(lines.some((l) => l.source === source && l.type === 'OUT' && pattern.test(l.message)), `a ${source} line matching ${pattern} in\n${lines.map((l) => `[${l.source}/${l.instance}] ${l.type} ${l.message}`).join('\n')}`);
    has('API', /^Created app with guid /);
    has('STG', /Nodejs Buildpack/);
    has('STG', /^Staging complete/);
    has('CELL', /^Container became healthy/);
    has('APP/PROC/WEB', /^listening on \d+/);
    has('APP/PROC/WEB', new RegExp(`^GET ${marker}$`));
    const times = lines.map((l) => l.time);
    assert.deepEqual(times, [...times].sort(), 'oldest first');
    assert.ok(lines.findIndex((l) => l.source === 'API') < lines.findIndex((l) => l.source === 'APP/PROC/WEB'), 'the app was created before it ran');
  });

  it('a streaming cf logs shows a line the app writes after it started', async () => {
    let out = '';
    stream = box.cf.spawn(['logs', 'hello']);
    stream.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    stream.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await waitFor('cf logs to start', () => out.includes('Retrieving logs for app hello'), { timeoutMs: 20_000 });
    const marker = `/stream-${randomUUID()}`;
    await visit(marker);
    // cf reads log-cache every two seconds, and only lines at least two seconds old: bounded well above.
    await waitFor('the streaming cf logs to show the new line', () => parsed(out).some((l) => l.source === 'APP/PROC/WEB' && l.message === `GET ${marker}`), {
      timeoutMs: 30_000,
      intervalMs: 200,
      onTimeout: () => {
        throw new Error(`no line 'GET ${marker}' from the streaming cf logs; it printed:\n${out}`);
      },
    });
    await waitFor('the router line too', () => parsed(out).some((l) => l.source === 'RTR' && l.message.includes(`"GET ${marker} HTTP/1.1" 200`)), { timeoutMs: 10_000 });
    assert.equal(stream.exitCode, null, 'cf logs keeps streaming');
    process.kill(stream.pid!, 'SIGTERM');
    await stream;
    stream = undefined;
  });
});
