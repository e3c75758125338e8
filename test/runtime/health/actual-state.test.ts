// The actual state from DEA heartbeats and exits, with an explicit clock. Malformed heartbeats and
// exits never get here: their checks (test/runtime/common/bus-messages.test.ts) drop them.
import assert from 'node:assert/strict';
import type { DropletExited, Heartbeat, HeartbeatDroplet } from '../../../src/runtime/common/bus-messages.js';
import { ActualState } from '../../../src/runtime/health/actual-state.js';

const HB = 1_000;

const droplet = (instance: string, index: number, state: HeartbeatDroplet['state'] = 'RUNNING', app = 'A'): HeartbeatDroplet => ({
  droplet: app,
  version: 'v1',
  instance,
  index,
  state,
  state_timestamp: 1_700_000_000,
});
const heartbeat = (dea: string, ...droplets: HeartbeatDroplet[]): Heartbeat => ({ dea, droplets });
const exited = (instance: string, index: number, reason: DropletExited['reason'], app = 'A'): DropletExited => ({
  droplet: app,
  version: 'v1',
  instance,
  index,
  reason,
  exit_status: reason === 'CRASHED' ? 1 : 0,
  exit_description: 'app instance exited',
  crash_timestamp: 1_700_000_001,
});

describe('health: actual state', () => {
  it('records the instances of each heartbeat, keeping when each was first seen', () => {
    const s = new ActualState(HB, 0);
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0), droplet('i1', 1, 'STARTING')), 100);
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0), droplet('i1', 1)), 1_100);
    const view = s.snapshot(1_600);
    assert.deepEqual(
      view.instances.map((i) => [i.instance, i.index, i.state, i.dea, i.firstSeenAt, i.lastSeenAt]),
      [
        ['i0', 0, 'RUNNING', 'dea-0', 100, 1_100],
        ['i1', 1, 'RUNNING', 'dea-0', 100, 1_100],
      ],
    );
    assert.deepEqual([...view.lastActiveAt], [['A:0', 1_100], ['A:1', 1_100]]);
    assert.deepEqual(view.deas, ['dea-0']);
    assert.equal(s.stats.heartbeats_received, 2);
  });

  it('drops an instance no heartbeat mentioned for 3 intervals', () => {
    const s = new ActualState(HB, 0);
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0), droplet('i1', 1)), 0);
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0)), 1_000);
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0)), 2_000);
    assert.deepEqual(s.prune(3_000).instances, [], 'exactly 3 intervals: still there');
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0)), 3_000);
    const gone = s.prune(3_001);
    assert.deepEqual(gone.instances.map((i) => i.instance), ['i1']);
    assert.deepEqual(gone.deas, []);
    assert.deepEqual(s.snapshot(3_001).instances.map((i) => i.instance), ['i0']);
  });

  it('drops a DEA silent for 3 intervals with all its instances, and keeps the others', () => {
    const s = new ActualState(HB, 0);
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0)), 0);
    s.onHeartbeat(heartbeat('dea-1', droplet('i1', 1)), 0);
    for (const t of [1_000, 2_000, 3_000]) s.onHeartbeat(heartbeat('dea-1', droplet('i1', 1)), t);
    const gone = s.prune(3_500);
    assert.deepEqual(gone.deas, ['dea-0']);
    assert.deepEqual(gone.instances.map((i) => i.instance), ['i0']);
    assert.deepEqual(s.snapshot(3_500).deas, ['dea-1']);
    assert.equal(s.snapshot(3_500).complete, true, 'another DEA still speaks');
  });

  it('forgets an instance that exited STOPPED or with its DEA, and ignores a late heartbeat naming it', () => {
    const s = new ActualState(HB, 0);
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0), droplet('i1', 1)), 0);
    assert.deepEqual(s.onExited(exited('i0', 0, 'STOPPED'), 10), []);
    assert.deepEqual(s.onExited(exited('i1', 1, 'DEA_SHUTDOWN'), 10), []);
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0, 'STOPPING')), 20);
    assert.deepEqual(s.snapshot(30).instances, []);
    s.prune(5_000);
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0)), 5_000);
    assert.deepEqual(s.snapshot(5_000).instances.map((i) => i.instance), ['i0'], 'the tombstone expires with the alive window');
  });

  it('counts a crash once, whether its exit or a heartbeat tells first', () => {
    const s = new ActualState(HB, 0);
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0), droplet('i1', 1)), 0);
    assert.deepEqual(s.onExited(exited('i0', 0, 'CRASHED'), 100), [{ app: 'A', index: 0, version: 'v1', at: 100 }]);
    assert.deepEqual(s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0, 'CRASHED'), droplet('i1', 1)), 150), []);
    assert.deepEqual(s.onExited(exited('i0', 0, 'CRASHED'), 160), [], 'a repeated exit is not a second crash');
    assert.deepEqual(s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0, 'CRASHED'), droplet('i1', 1, 'CRASHED')), 200), [{ app: 'A', index: 1, version: 'v1', at: 200 }]);
    assert.deepEqual(s.onExited(exited('i1', 1, 'CRASHED'), 210), []);
    assert.equal(s.stats.crashes_seen, 2);
    const view = s.snapshot(300);
    assert.deepEqual(view.instances.map((i) => [i.instance, i.state]), [['i0', 'CRASHED'], ['i1', 'CRASHED']]);
    assert.deepEqual([...view.lastActiveAt], [['A:0', 0], ['A:1', 150]], 'crashed instances are not active');
  });

  it('never lets a crashed instance run again on a stale report', () => {
    const s = new ActualState(HB, 0);
    s.onExited(exited('i0', 0, 'CRASHED'), 100);
    s.onHeartbeat(heartbeat('dea-0', droplet('i0', 0, 'RUNNING')), 110);
    const [i0] = s.snapshot(120).instances;
    assert.equal(i0.state, 'CRASHED');
    assert.equal(i0.dea, 'dea-0');
    assert.equal(s.snapshot(120).lastActiveAt.has('A:0'), false);
  });

  it('records a crash of an instance it never heard of', () => {
    const s = new ActualState(HB, 0);
    assert.deepEqual(s.onExited(exited('i9', 3, 'CRASHED', 'B'), 50), [{ app: 'B', index: 3, version: 'v1', at: 50 }]);
    assert.deepEqual(s.snapshot(60).instances.map((i) => [i.instance, i.app, i.index, i.state, i.dea]), [['i9', 'B', 3, 'CRASHED', '']]);
  });

  it('is complete only after 1.5 intervals of listening and while some DEA speaks', () => {
    const s = new ActualState(HB, 0);
    s.onHeartbeat(heartbeat('dea-0'), 100);
    assert.equal(s.snapshot(1_499).complete, false, 'not listened long enough');
    assert.equal(s.snapshot(1_500).complete, true);
    assert.equal(s.snapshot(3_100).complete, true);
    assert.equal(s.snapshot(3_101).complete, false, 'no DEA for 3 intervals');
    s.onHeartbeat(heartbeat('dea-0'), 3_200);
    assert.equal(s.snapshot(3_200).complete, true);
    s.listenFrom(3_300);
    assert.equal(s.snapshot(3_400).complete, false, 'after a reconnect, heartbeats may have been missed');
    s.onHeartbeat(heartbeat('dea-0'), 4_700);
    assert.equal(s.snapshot(4_800).complete, true);
    assert.equal(new ActualState(HB, 0).snapshot(5_000).complete, false, 'never heard a DEA');
  });
});
