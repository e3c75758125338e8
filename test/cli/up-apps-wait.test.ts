// What `devbox up` waits for after its components are healthy (lifecycle.ts, waitForStartedApps),
// without a box: every STARTED app with instances (in any space), each process until it runs, then
// each route to a running process until the router routes it; what does not run is named with why
// (crashed with the reason, still starting at the startup timeout, no droplet, a route not routed),
// and nothing throws for an app. Against an in-memory stand-in for the API.
import assert from 'node:assert/strict';
import type { ApiClient } from '../../src/cli/api/client.js';
import type { App, AuditEvent, Droplet, Process, ProcessInstanceStats, Route } from '../../src/cli/api/resources.js';
import { waitForStartedApps } from '../../src/cli/lifecycle.js';
import { createSteps } from '../../src/cli/steps.js';

const app = (guid: string, state: 'STARTED' | 'STOPPED' = 'STARTED') => ({ guid, name: guid, state }) as App;
const processOf = (appGuid: string, type: string, instances: number) =>
  ({ guid: `${appGuid}-${type}`, type, instances, relationships: { app: { data: { guid: appGuid } } }, health_check: { type: 'port', data: { timeout: null } } }) as unknown as Process;
const stat = (index: number, state: string): ProcessInstanceStats => ({ type: 'web', index, state });
const crash = (processGuid: string, index: number, description: string): AuditEvent =>
  ({ guid: `e${index}`, created_at: new Date().toISOString(), updated_at: '', type: 'audit.app.process.crash', actor: { guid: processGuid, type: 'process', name: 'web' }, target: { guid: 'a', type: 'app', name: 'a' }, data: { index, exit_status: 3, exit_description: description } }) as AuditEvent;
const route = (appGuid: string, url: string, type = 'web') => ({ guid: url, url, destinations: [{ guid: 'd', app: { guid: appGuid, process: { type } } }] }) as unknown as Route;

interface Box {
  apps: App[];
  processes: Process[];
  /** Stats per process guid, answered in turn (the last repeats). */
  stats: Record<string, ProcessInstanceStats[][]>;
  crashes?: AuditEvent[];
  routes?: Route[];
  withoutDroplet?: string[];
}

function fakeClient(box: Box): ApiClient {
  const polls = new Map<string, number>();
  return {
    list: async (path: string) => {
      assert.equal(path, '/v3/apps', 'every space: no space filter');
      return box.apps;
    },
    processes: {
      ofApps: async (guids: string[]) => box.processes.filter((p) => guids.includes(p.relationships.app.data.guid)),
      instanceStats: async (guid: string) => {
        const answers = box.stats[guid];
        const n = polls.get(guid) ?? 0;
        polls.set(guid, n + 1);
        return answers[Math.min(n, answers.length - 1)];
      },
    },
    apps: {
      currentDroplet: async (guid: string) => (box.withoutDroplet?.includes(guid) ? undefined : ({ guid: `${guid}-droplet` } as Droplet)),
      crashEvents: async (guid: string) => (box.crashes ?? []).filter((e) => e.actor.guid.startsWith(`${guid}-`)),
    },
    routes: { ofApp: async (guid: string) => (box.routes ?? []).filter((r) => r.destinations.some((d) => d.app.guid === guid)) },
  } as unknown as ApiClient;
}

function recordingUi() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, ui: { steps: createSteps((t) => out.push(t), (t) => err.push(t), false), bin: 'devbox', logs: true } };
}

describe('up: waiting for the started apps', () => {
  const savedTimeout = process.env.CF_STARTUP_TIMEOUT;
  afterEach(() => {
    if (savedTimeout === undefined) delete process.env.CF_STARTUP_TIMEOUT;
    else process.env.CF_STARTUP_TIMEOUT = savedTimeout;
  });

  it('waits for each started app until it runs and is routed; says nothing of stopped apps or processes without instances', async () => {
    const box: Box = {
      apps: [app('shop'), app('idle', 'STOPPED'), app('blog')],
      processes: [processOf('shop', 'web', 2), processOf('shop', 'worker', 0), processOf('idle', 'web', 1), processOf('blog', 'web', 1)],
      stats: {
        'shop-web': [[stat(0, 'DOWN'), stat(1, 'DOWN')], [stat(0, 'STARTING'), stat(1, 'RUNNING')], [stat(0, 'RUNNING'), stat(1, 'RUNNING')]],
        'blog-web': [[stat(0, 'RUNNING')]],
      },
      routes: [route('shop', 'shop.localhost'), route('shop', 'www.localhost/shop'), route('blog', 'blog.localhost')],
    };
    const asked: string[] = [];
    let known = 0;
    const { out, err, ui } = recordingUi();
    const reports = await waitForStartedApps(fakeClient(box), new Date(), ui, {
      routed: async (hostname, path) => {
        asked.push(`${hostname} ${path}`);
        // The router learns each route only after being asked twice.
        return ++known % 3 === 0;
      },
    });
    assert.deepEqual(out, ['Waiting for 2 apps to start...', '   2 of 2 running']);
    assert.deepEqual(err, []);
    assert.deepEqual(reports.map((r) => [r.app.name, r.problems]), [['shop', []], ['blog', []]]);
    for (const expected of ['shop.localhost /', 'www.localhost /shop', 'blog.localhost /']) assert.ok(asked.includes(expected), `${expected} was asked: ${asked.join(', ')}`);
  });

  it('names an app whose instances crashed, with the reason, and still returns', async () => {
    const box: Box = {
      apps: [app('crashy'), app('fine')],
      processes: [processOf('crashy', 'web', 1), processOf('fine', 'web', 1)],
      stats: { 'crashy-web': [[stat(0, 'CRASHED')]], 'fine-web': [[stat(0, 'RUNNING')]] },
      crashes: [crash('crashy-web', 0, 'APP/PROC/WEB: Exited with status 3')],
    };
    const { out, err, ui } = recordingUi();
    const reports = await waitForStartedApps(fakeClient(box), new Date(), ui);
    assert.deepEqual(out, ['Waiting for 2 apps to start...', '   1 of 2 running']);
    assert.deepEqual(err, ["App crashy is not running: process web crashed (#0: APP/PROC/WEB: Exited with status 3); use 'devbox logs crashy --recent' for more information."]);
    assert.deepEqual(reports[0].problems.length, 1);
  });

  it('names an app still starting at its startup timeout, one without a droplet, one partly running, and a route not routed', async () => {
    process.env.CF_STARTUP_TIMEOUT = '0.01'; // minutes: 600 ms
    const box: Box = {
      apps: [app('slow'), app('new'), app('half'), app('hidden')],
      processes: [processOf('slow', 'web', 1), processOf('new', 'web', 1), processOf('half', 'web', 2), processOf('hidden', 'web', 1)],
      stats: { 'slow-web': [[stat(0, 'STARTING')]], 'half-web': [[stat(0, 'RUNNING'), stat(1, 'STARTING')]], 'hidden-web': [[stat(0, 'RUNNING')]] },
      routes: [route('hidden', 'hidden.localhost')],
      withoutDroplet: ['new'],
    };
    const { out, err, ui } = recordingUi();
    const begun = Date.now();
    await waitForStartedApps(fakeClient(box), new Date(), ui, { routed: async (hostname) => hostname !== 'hidden.localhost' });
    assert.ok(Date.now() - begun < 5_000, 'bounded by the startup timeout');
    assert.deepEqual(out, ['Waiting for 4 apps to start...', '   0 of 4 running']);
    assert.deepEqual(err, [
      "App slow is not running: process web is still starting after 1 s ('devbox app slow' shows its instances).",
      "App new is not running: it has no droplet ('devbox restage new' stages one).",
      'App half is not running: process web: 1 of 2 instances not running (#1 starting).',
      'App hidden is not running: the router does not route hidden.localhost yet.',
    ]);
  });

  it('shows nothing when no app is started', async () => {
    const box: Box = { apps: [app('idle', 'STOPPED')], processes: [processOf('idle', 'web', 1)], stats: {} };
    const { out, err, ui } = recordingUi();
    assert.deepEqual(await waitForStartedApps(fakeClient(box), new Date(), ui), []);
    assert.deepEqual([out, err], [[], []]);
  });
});
