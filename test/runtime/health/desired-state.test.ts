// Reading the controller's desired state: token from uaa, the endpoint through the "router",
// failures that must never replace the last good snapshot.
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/runtime/common/log.js';
import { sleep, waitFor } from '../../../src/runtime/common/net.js';
import { DesiredState, indexByProcess, parseDesiredProcesses, type DesiredStateOptions } from '../../../src/runtime/health/desired-state.js';
import { COMPONENTS_CLIENT, desiredProcess, FakeController } from './helpers.js';

describe('health: desired state', () => {
  let controller: FakeController;
  let port: number;
  const logLines: string[] = [];
  const states: DesiredState[] = [];

  const fetcher = (over: Partial<DesiredStateOptions> = {}) => {
    const state = new DesiredState({
      apiUrl: `http://api.localhost:${port}`,
      uaaUrl: `http://uaa.localhost:${port}`,
      clientId: COMPONENTS_CLIENT.id,
      clientSecret: COMPONENTS_CLIENT.secret,
      pollMs: 50,
      timeoutMs: 1_000,
      log: createLogger('health', { write: (l) => void logLines.push(l) }),
      ...over,
    });
    states.push(state);
    return state;
  };

  beforeEach(async () => {
    controller = new FakeController();
    port = await controller.listen();
    logLines.length = 0;
  });
  afterEach(async () => {
    for (const s of states.splice(0)) s.stop();
    await controller.close();
  });

  it('fetches the processes with a components token, reusing the token', async () => {
    controller.set(desiredProcess('A', { instances: 2 }), desiredProcess('B', { state: 'STOPPED' }));
    const state = fetcher();
    const before = Date.now();
    assert.equal(await state.fetchOnce(), true);
    assert.equal(await state.fetchOnce(), true);
    assert.equal(controller.tokensIssued, 1);
    const snapshot = state.snapshot!;
    assert.deepEqual([...snapshot.processes.keys()].sort(), ['A', 'B']);
    assert.equal(snapshot.processes.get('A')!.instances, 2);
    assert.ok(snapshot.fetchedAt >= before && snapshot.fetchedAt <= Date.now(), 'stamped with the time the request was sent');
    const stats = state.stats();
    assert.equal(stats.desired_fetches, 2);
    assert.equal(stats.last_desired_fetch_ok, true);
    assert.equal(stats.desired_fetch_failures, 0);
  });

  it('gets a new token when the controller refuses the old one', async () => {
    controller.set(desiredProcess('A'));
    const state = fetcher();
    assert.equal(await state.fetchOnce(), true);
    controller.revokeTokens();
    assert.equal(await state.fetchOnce(), true);
    assert.equal(controller.tokensIssued, 2);
  });

  for (const mode of ['error', 'garbage', 'reset'] as const) {
    it(`keeps the last good snapshot when the controller answers with ${mode === 'reset' ? 'a reset connection' : mode === 'error' ? 'a 503' : 'something not JSON'}`, async () => {
      controller.set(desiredProcess('A'));
      const state = fetcher();
      assert.equal(await state.fetchOnce(), true);
      const good = state.snapshot;
      controller.mode = mode;
      assert.equal(await state.fetchOnce(), false);
      assert.equal(await state.fetchOnce(), false);
      assert.equal(state.snapshot, good);
      const stats = state.stats();
      assert.equal(stats.last_desired_fetch_ok, false);
      assert.equal(stats.desired_fetch_failures, 2);
      assert.ok(stats.last_desired_fetch_error);
      assert.equal(logLines.filter((l) => l.includes('cannot read the desired state')).length, 1, 'one warning, not one per poll');
      controller.mode = 'ok';
      assert.equal(await state.fetchOnce(), true);
      assert.notEqual(state.snapshot, good);
      assert.ok(logLines.some((l) => l.includes('desired state readable again')));
    });
  }

  it('fails a whole fetch with one malformed process (a process left out would look undesired)', async () => {
    controller.set(desiredProcess('A'), { ...desiredProcess('B'), instances: -1 });
    const state = fetcher();
    assert.equal(await state.fetchOnce(), false);
    assert.equal(state.snapshot, undefined);
    assert.match(state.stats().last_desired_fetch_error!, /desired process 1 has no valid 'instances'/);
  });

  it('says why when uaa refuses the components client', async () => {
    const state = fetcher({ clientSecret: 'wrong' });
    assert.equal(await state.fetchOnce(), false);
    assert.match(state.stats().last_desired_fetch_error!, /uaa refused a components token \(401/);
  });

  it('says why when the controller is not routed', async () => {
    const state = fetcher({ apiUrl: `http://nowhere.localhost:${port}` });
    assert.equal(await state.fetchOnce(), false);
    assert.match(state.stats().last_desired_fetch_error!, /answered 404/);
  });

  it('polls until stopped', async () => {
    controller.set(desiredProcess('A'));
    let snapshots = 0;
    const state = fetcher({ onSnapshot: () => snapshots++ });
    state.start();
    await waitFor('three polls', () => snapshots >= 3, { timeoutMs: 2_000 });
    state.stop();
    await sleep(20);
    const requests = controller.desiredRequests;
    await sleep(150);
    assert.equal(controller.desiredRequests, requests);
  });

  it('validates the shape of the endpoint', () => {
    assert.deepEqual(parseDesiredProcesses('{"processes":[]}'), []);
    const [p] = parseDesiredProcesses(JSON.stringify({ processes: [{ app_guid: 'A', process_guid: 'P', version: 'v', instances: 0, state: 'STOPPED', droplet_guid: null, extra: 1 }] }));
    assert.deepEqual(p, { app_guid: 'A', process_guid: 'P', version: 'v', instances: 0, state: 'STOPPED', droplet_guid: null, updated_at: '', deploying: false });
    assert.throws(() => parseDesiredProcesses('nope'), /not JSON/);
    assert.throws(() => parseDesiredProcesses('{"resources":[]}'), /no 'processes' list/);
    assert.throws(() => parseDesiredProcesses('{"processes":[{"version":"v","instances":1,"state":"STARTED"}]}'), /no valid 'app_guid'/);
    assert.throws(() => parseDesiredProcesses('{"processes":[{"app_guid":"A","instances":1,"state":"STARTED"}]}'), /no valid 'process_guid'/);
    assert.throws(() => parseDesiredProcesses('{"processes":[{"app_guid":"A","process_guid":"P","instances":1,"state":"STARTED"}]}'), /no valid 'version'/);
    assert.throws(() => parseDesiredProcesses('{"processes":[{"app_guid":"A","process_guid":"P","version":"v","instances":1.5,"state":"STARTED"}]}'), /'instances'/);
    assert.throws(() => parseDesiredProcesses('{"processes":[null]}'), /'app_guid'/);
  });

  it('indexes every process of an app by its own guid, as the DEAs name instances', () => {
    const web = desiredProcess('A', { process_guid: 'A' });
    const worker = desiredProcess('A', { process_guid: 'W', instances: 2 });
    const index = indexByProcess([web, worker]);
    assert.deepEqual([...index.keys()], ['A', 'W']);
    assert.equal(index.get('W')!.instances, 2);
  });
});
