// The router as `devbox up -d` runs it (the built executable, real processes): listed healthy,
// routes what is registered over the box's bus, 404s the rest, and when killed -9 its worker
// processes go with it and the supervisor brings it back.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { connect, type NatsConnection } from 'nats';
import { parseNatsUrl } from '../../../src/runtime/common/bus.js';
import { freePort, waitFor } from '../../../src/runtime/common/net.js';
import { busUrl, readBox } from '../../helpers/box-probe.js';
import { cleanupBox, devbox, isPidAlive, tempHome } from '../../helpers/devbox.js';
import { publishJson, registration, request, startBackend, type Backend } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface StatusJson {
  nats_url: string;
  components: { name: string; pid?: number; healthy: boolean }[];
}

/** The build in dist/ must have the router as it is in src/ (npm test builds first; mocha alone may not). */
async function ensureBuilt(): Promise<void> {
  const built = path.join(root, 'dist/runtime/router/component.js');
  const sources = fs.readdirSync(path.join(root, 'src/runtime/router'), { recursive: true }).map((f) => path.join(root, 'src/runtime/router', String(f)));
  const newest = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs));
  if (fs.existsSync(built) && fs.statSync(built).mtimeMs >= newest) return;
  // Other components' type errors must not stop the router from being emitted.
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, reject: false, timeout: 180_000 });
  assert.ok(fs.existsSync(built) && fs.statSync(built).mtimeMs >= newest, 'dist/ has the current router (run npm run build)');
}

async function statusJson(home: string): Promise<StatusJson> {
  const result = await devbox(home, ['status', '--json']);
  return JSON.parse(result.stdout) as StatusJson;
}

/** Child pids of a process (Linux /proc). */
function childPids(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

describe('router in a real box (devbox up -d)', function () {
  this.timeout(120_000);
  let home: string;
  let nc: NatsConnection | undefined;
  let backend: Backend | undefined;

  before(ensureBuilt);
  beforeEach(() => (home = tempHome()));
  afterEach(async () => {
    await nc?.close();
    await backend?.close();
    await cleanupBox(home);
  });

  it('runs the router: healthy, routes registered apps, 404s unknown hosts, restarts with its workers after kill -9', async () => {
    const routerPort = await freePort();
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)], { timeoutMs: 60_000 });
    assert.equal(up.exitCode, 0, up.stdout + up.stderr);
    const status = await statusJson(home);
    const router = status.components.find((c) => c.name === 'router');
    assert.ok(router, `the router is listed: ${JSON.stringify(status.components)}`);
    assert.equal(router.healthy, true);

    // status --json redacts the token: the bus URL with it comes from the state directory.
    const address = parseNatsUrl(busUrl(readBox(home)));
    nc = await connect({ servers: address.servers, token: address.token, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    backend = await startBackend('myapp');
    const msg = registration(backend, ['myapp.localhost']);
    await waitFor(
      'myapp.localhost through the router',
      async () => {
        publishJson(nc!, 'router.register', msg);
        return (await request(routerPort, { host: 'myapp.localhost' })).text === 'myapp';
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    assert.equal(backend.requests.at(-1)!.headers['x-cf-applicationid'], 'app-guid-1');

    const unknown = await request(routerPort, { host: 'nope.localhost' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers['x-cf-routererror'], 'unknown_route');
    assert.equal(unknown.text, "404 Not Found: Requested route ('nope.localhost') does not exist.");

    // kill -9 the component: its workers must not outlive it, and the supervisor restarts it.
    const workers = childPids(router.pid!);
    process.kill(router.pid!, 'SIGKILL');
    await waitFor('the router’s worker processes to exit', () => workers.every((pid) => !isPidAlive(pid)), { timeoutMs: 10_000 });
    const restarted = await waitFor(
      'the router to be restarted',
      async () => {
        const r = (await statusJson(home).catch(() => undefined))?.components.find((c) => c.name === 'router');
        return r?.healthy && r.pid !== router.pid ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    assert.ok(restarted.pid);
    await waitFor(
      'myapp.localhost through the new router',
      async () => {
        publishJson(nc!, 'router.register', msg);
        return (await request(routerPort, { host: 'myapp.localhost' }).catch(() => undefined))?.text === 'myapp';
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
  });
});
