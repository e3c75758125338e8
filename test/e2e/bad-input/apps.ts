// Hostile apps: one that floods its logs, one that opens thousands of connections to the router and
// the bus. Each is contained (rate-limited, or left to hold what it opened) and nothing else breaks:
// the canary keeps answering and keeps its logs, every component stays up.
import assert from 'node:assert/strict';
import path from 'node:path';
import { waitFor } from '../../../src/runtime/common/net.js';
import { fixtures, show, type BadInputBox } from './box.js';

interface ConnectionsState {
  opened: { router: number; bus: number };
  open: { router: number; bus: number };
  failed: { router: number; bus: number };
  errors: Record<string, number>;
  done: boolean;
}

/** Client connections the router holds, over its workers. */
const routerConnections = (varz: Record<string, unknown>) => {
  const workers = varz.per_worker as { connections?: number }[] | undefined;
  return workers ? workers.reduce((sum, w) => sum + (w.connections ?? 0), 0) : Number(varz.connections);
};

export function hostileApps(get: () => BadInputBox): void {
  describe('hostile apps', () => {
    it('an app that floods its logs is rate-limited, not slowed, and the canary keeps its logs', async () => {
      const box = get();
      const push = await box.cli(['push', 'flooder', '-p', path.join(fixtures, 'apps/behaviours'), '-b', 'binary', '-c', 'node flood.js', '--no-manifest']);
      assert.equal(push.exitCode, 0, show(push));
      const done = await waitFor('the flood to end', async () => /flood done: (\d+) lines in (\d+) ms/.exec((await box.visit('flooder')).text) ?? undefined, { timeoutMs: 30_000, intervalMs: 250 });
      assert.ok(Number(done[2]) < 10_000, `${done[1]} lines took ${done[2]} ms: the app was slowed down`);

      const recent = await box.cli(['logs', 'flooder', '--recent']);
      assert.equal(recent.exitCode, 0, show(recent));
      assert.match(recent.stdout, /\[APP\/PROC\/WEB\/0\] ERR app instance exceeded log rate limit \(\d+ lines\/s\)/);
      const floodLines = recent.stdout.split('\n').filter((l) => l.includes('flood line')).length;
      assert.ok(floodLines < Number(done[1]), `all ${floodLines} lines were kept: nothing was limited`);

      // Someone else's logs still arrive while (and after) the flood went through.
      const marker = `/after-flood-${Date.now()}`;
      assert.equal((await box.visit('canary', marker)).status, 200);
      await waitFor('the canary request in its logs', async () => (await box.cli(['logs', 'canary', '--recent'])).stdout.includes(marker), { timeoutMs: 10_000, intervalMs: 250 });
      assert.equal((await box.cli(['delete', 'flooder', '-f'])).exitCode, 0);
      await box.stillWorks('a log flood');
    });

    it('an app that opens thousands of connections to the router and the bus does not stop anyone else', async () => {
      const box = get();
      const count = 2000;
      const dir = path.join(fixtures, 'bad-input/connections');
      const busBefore = Number((await box.varz('bus')).connections);
      const push = await box.cli(['push', 'connector', '-p', dir, '-b', 'binary', '-c', 'node connections.js', '--no-manifest', '--no-start']);
      assert.equal(push.exitCode, 0, show(push));
      for (const [k, v] of [['COUNT', String(count)], ['BUS_PORT', String(box.ports.bus_port ?? 0)]]) assert.equal((await box.cli(['set-env', 'connector', k, v])).exitCode, 0);
      const start = await box.cli(['start', 'connector']);
      assert.equal(start.exitCode, 0, show(start));

      const state = await waitFor('the connections to be opened', async () => {
        const s = JSON.parse((await box.visit('connector')).text) as ConnectionsState;
        return s.done ? s : undefined;
      }, { timeoutMs: 30_000, intervalMs: 250 });
      assert.equal(state.opened.router + state.failed.router, count, JSON.stringify(state));
      assert.ok(state.opened.router > count / 2, `the router took ${state.opened.router} of ${count}: ${JSON.stringify(state)}`);

      // While the app holds them, the router serves the canary, and the bus serves the components.
      for (let i = 0; i < 5; i++) assert.equal((await box.visit('canary')).status, 200);
      await box.stillWorks('thousands of connections held open');
      // The bus drops connections that never authenticate (its 2 s auth timeout). (Those the kernel
      // never handed to it, past its listen backlog, look open to the app only.)
      await waitFor('the bus to drop the unauthenticated connections', async () => Number((await box.varz('bus')).connections) <= busBefore + 5, { timeoutMs: 15_000, intervalMs: 500 });

      assert.equal((await box.cli(['delete', 'connector', '-f'])).exitCode, 0);
      // The app's connections die with it: the router holds none of them any more.
      await waitFor('the router to let go of the connections', async () => routerConnections(await box.varz('router')) < 100, { timeoutMs: 15_000, intervalMs: 500 });
      await box.stillWorks('an app with thousands of connections');
    });
  });
}
