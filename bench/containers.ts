// What containers cost (issue 17; docs/dea.md, "Limits"): push time and idle memory per instance
// in containers (the default) against the same box without them (DEVBOX_DEA_CONTAINERS=off), in one
// run. Two boxes run side by side; the pushes alternate between them (which goes first alternates
// too), so that whatever else the machine does weighs on both alike. The goal: containers add at
// most 50 ms to a push and 5 MB to an idle instance.
//
// Push: `devbox push` of the hello-world app (templates/apps/hello-node, as bench/push.ts) under a
// new name each time, so each push stages (in a container too) and starts an instance, until the
// router answers 200; the median of each box's pushes, after one push each that is not counted, and
// the median of the rounds' differences.
// Memory: every pushed app's instance left idle, then the PSS of each instance's processes (the tree
// under the pid its instance.json records: bubblewrap and everything in the container, or the
// instance's own processes without one), summed and divided by the number of instances (median of
// three samples, both boxes read in the same sample: PSS splits node's shared pages between every
// process mapping them, the same share for both). The memory the app's stats report (what the kernel
// charges the instance's cgroup) is given too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { statePaths, type DevboxConfig } from '../src/runtime/common/config.js';
import { request } from '../src/runtime/common/http.js';
import { freePort, sleep } from '../src/runtime/common/net.js';
import { processTree, pssBytes, scan } from '../src/runtime/common/procfs.js';
import { DEVBOX_BIN } from '../src/runtime/supervisor/supervisor.js';
import { boxApi } from '../test/helpers/api.js';
import { printTable, type BenchRow } from './lib.js';

const APP = fileURLToPath(new URL('../templates/apps/hello-node', import.meta.url));
const MB = 1024 * 1024;
const IDLE_MS = 5_000;
const SAMPLES = 3;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const log = (line: string) => process.stderr.write(`  containers: ${line}\n`);

interface Box {
  label: string;
  home: string;
  port: number;
  devbox(args: string[]): Promise<{ exitCode?: number; stdout: unknown; stderr: unknown }>;
  /** What the DEA's /varz says: `namespaces` or `none`, and the memory limit mechanism. */
  isolation: string;
  memoryEnforcement: string;
  pushes: number[];
  up(): Promise<void>;
}

function newBox(label: string, containers: 'auto' | 'off'): Box {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `devbox-bench-containers-${containers}-`));
  let env: Record<string, string> = { DEVBOX_HOME: home, DEVBOX_DEA_CONTAINERS: containers };
  const devbox = (args: string[]) => execa(process.execPath, [DEVBOX_BIN, ...args], { env, cwd: APP, reject: false, timeout: 120_000 });
  return {
    label,
    home,
    port: 0,
    devbox,
    isolation: '?',
    memoryEnforcement: '?',
    pushes: [],
    async up() {
      this.port = await freePort();
      // Two boxes at once: each its own HTTPS port too (not the default 8443).
      env = { ...env, DEVBOX_TLS_PORT: String(await freePort()) };
      const up = await devbox(['up', '-d', '--port', String(this.port)]);
      if (up.exitCode !== 0) throw new Error(`devbox up (${label}) failed: ${String(up.stdout)}${String(up.stderr)}`);
      const status = JSON.parse(String((await devbox(['status', '--json'])).stdout)) as { components: { name: string; status_port: number }[] };
      const dea = status.components.find((c) => c.name.startsWith('dea'));
      const config = JSON.parse(fs.readFileSync(statePaths(home).config, 'utf8')) as DevboxConfig;
      const varz = await request({ url: `http://127.0.0.1:${dea?.status_port}/varz`, headers: { authorization: `Basic ${Buffer.from(`${config.status.user}:${config.status.password}`).toString('base64')}` } });
      const v = JSON.parse(varz.text) as { isolation?: { containers: string; detail: string }; limits?: { memory_enforcement: string } };
      this.isolation = v.isolation?.containers ?? '?';
      this.memoryEnforcement = v.limits?.memory_enforcement ?? '?';
      log(`${label}: isolation ${this.isolation} (${v.isolation?.detail}), memory ${this.memoryEnforcement}`);
    },
  };
}

/** Pushes the app as `name` and returns the time from the push to the router's first 200 (ms). */
async function timedPush(box: Box, name: string): Promise<number> {
  const start = process.hrtime.bigint();
  const pushed = await box.devbox(['push', name, '--no-manifest']);
  if (pushed.exitCode !== 0) throw new Error(`push (${box.label}) failed: ${String(pushed.stdout)}${String(pushed.stderr)}`);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await request({ url: `http://${name}.localhost:${box.port}/`, timeoutMs: 2_000 }).catch(() => undefined);
    if (res?.status === 200) return Number(process.hrtime.bigint() - start) / 1e6;
    if (Date.now() > deadline) throw new Error(`${name} (${box.label}) never answered 200 after its push`);
    await sleep(5);
  }
}

/** The host pids of each running instance of the box, from the records the DEA keeps beside them. */
function instanceTrees(box: Box, processes = scan()): number[][] {
  const deas = path.join(box.home, 'dea');
  const trees: number[][] = [];
  for (const dea of fs.readdirSync(deas)) {
    const instances = path.join(deas, dea, 'instances');
    for (const dir of fs.existsSync(instances) ? fs.readdirSync(instances) : []) {
      try {
        const record = JSON.parse(fs.readFileSync(path.join(instances, dir, 'instance.json'), 'utf8')) as { pid: number };
        if (processes.byPid.has(record.pid)) trees.push(processTree(record.pid, new Set(), processes));
      } catch {
        // starting or gone meanwhile
      }
    }
  }
  return trees;
}

/** The memory each app's instance is charged as its stats report it (bytes, mean over the apps). */
async function statsMemory(box: Box): Promise<number> {
  const api = await boxApi(box.home, box.port);
  const apps = (await api.call('GET', '/v3/apps?per_page=100')).json() as { resources: { guid: string }[] };
  const mems: number[] = [];
  for (const app of apps.resources) {
    const stats = (await api.call('GET', `/v3/apps/${app.guid}/processes/web/stats`)).json() as { resources: { state: string; usage?: { mem?: number } }[] };
    for (const r of stats.resources) if (r.state === 'RUNNING' && r.usage?.mem) mems.push(r.usage.mem);
  }
  return mems.length > 0 ? sum(mems) / mems.length : 0;
}

export async function benchContainers(pushes = 10): Promise<BenchRow[]> {
  const boxes: Box[] = [];
  try {
    for (const [label, mode] of [['containers', 'auto'], ['no containers', 'off']] as const) {
      const box = newBox(label, mode);
      boxes.push(box);
      await box.up();
    }
    const [withC, without] = boxes;
    if (withC.isolation !== 'namespaces') throw new Error(`the default box made no containers (isolation ${withC.isolation}): is bubblewrap installed?`);
    if (without.isolation !== 'none') throw new Error(`the box with DEVBOX_DEA_CONTAINERS=off says isolation ${without.isolation}`);

    // One push each first, not counted: the first staging fills the buildpack's caches, and `up`
    // still starts the private MariaDB in the background. Its instance counts for memory.
    for (const box of boxes) await timedPush(box, 'warm-up');
    for (let i = 0; i < pushes; i++) {
      for (const box of i % 2 === 0 ? [withC, without] : [without, withC]) box.pushes.push(await timedPush(box, `hello-${i}`));
    }
    for (const box of boxes) log(`${box.label}: pushes ${box.pushes.map((ms) => Math.round(ms)).join(', ')} ms`);

    await sleep(IDLE_MS);
    const perInstance = new Map<Box, number[]>(boxes.map((b) => [b, []]));
    const processCounts = new Map<Box, number[]>(boxes.map((b) => [b, []]));
    for (let s = 0; s < SAMPLES; s++) {
      if (s > 0) await sleep(1_000);
      const processes = scan();
      for (const box of boxes) {
        const trees = instanceTrees(box, processes);
        if (trees.length !== pushes + 1) throw new Error(`${box.label}: ${trees.length} running instances, expected ${pushes + 1}`);
        perInstance.get(box)!.push(sum(trees.flat().map((pid) => pssBytes(pid) ?? 0)) / trees.length);
        processCounts.get(box)!.push(...trees.map((t) => t.length));
      }
    }
    const pss = new Map(boxes.map((b) => [b, median(perInstance.get(b)!) / MB]));
    const procs = new Map(boxes.map((b) => [b, median(processCounts.get(b)!)]));
    const charged = new Map<Box, number>();
    for (const box of boxes) charged.set(box, (await statsMemory(box)) / MB);
    for (const box of boxes) log(`${box.label}: PSS per instance ${perInstance.get(box)!.map((b) => (b / MB).toFixed(2)).join(', ')} MB; ${procs.get(box)} processes each; stats ${charged.get(box)!.toFixed(1)} MB`);

    const push = { with: median(withC.pushes), without: median(without.pushes) };
    // What containers add: the median of each round's difference (its two pushes ran back to back,
    // under the same load), steadier on a busy machine than the difference of the medians.
    const added = median(withC.pushes.map((ms, i) => ms - without.pushes[i]));
    const instances = `${pushes + 1} instances, ${procs.get(withC)} vs ${procs.get(without)} processes each`;
    const ref = 'without containers';
    return [
      { name: `push hello-world to first 200, in containers (median of ${pushes})`, unit: 'ms', devbox: push.with, reference: push.without, referenceName: ref, higherIsBetter: false },
      { name: 'push: added by containers, median of the rounds (goal ≤ 50 ms)', unit: 'ms', devbox: added, higherIsBetter: false },
      { name: `idle PSS per instance, in containers (${instances})`, unit: 'MB', devbox: pss.get(withC)!, reference: pss.get(without)!, referenceName: ref, higherIsBetter: false },
      { name: 'idle PSS per instance: added by containers (goal ≤ 5 MB)', unit: 'MB', devbox: pss.get(withC)! - pss.get(without)!, higherIsBetter: false },
      { name: `idle memory per instance as its stats say (the cgroup's charge, ${withC.memoryEnforcement})`, unit: 'MB', devbox: charged.get(withC)!, reference: charged.get(without)!, referenceName: ref, higherIsBetter: false },
    ];
  } finally {
    for (const box of boxes) {
      await box.devbox(['down']);
      fs.rmSync(box.home, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) printTable(await benchContainers());
