// Idle memory of a whole box: `devbox up -d` on a fresh state directory, a few seconds of idling once
// every component (and the private mariadbd) is up, then the resident memory (RSS, from /proc) of
// each component's processes, the private mariadbd on a row of its own, and the sum for the box.
//
// The reference for a component is an idle bare Node.js process (`node -e` with a timer, started in
// the same run with the same node), the floor any component of a Node program pays: the ratio shows
// the overhead of what devbox loads on top. For the box, the reference is that floor times the number
// of Node processes, plus the private mariadbd (which devbox does not shrink below what it needs).
// RSS counts pages shared between processes (node's own code) once per process, as `ps` does; the
// box's PSS (shared pages split between their users) is given too, as the memory the box really takes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { freePort, sleep, waitFor } from '../src/runtime/common/net.js';
import { processTree } from '../src/runtime/common/procfs.js';
import { DEVBOX_BIN } from '../src/runtime/supervisor/supervisor.js';
import { printTable, type BenchRow } from './lib.js';

const MB = 1024 * 1024;
const IDLE_MS = 5_000;
const SAMPLES = 3;

/** A field of /proc/<pid>/status or smaps_rollup in bytes (kB there), 0 when the process is gone. */
function procKb(file: string, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(file, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
const rss = (pid: number) => procKb(`/proc/${pid}/status`, 'VmRSS');
const pss = (pid: number) => procKb(`/proc/${pid}/smaps_rollup`, 'Pss');

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** RSS of idle bare node processes (median of three, started together), after they settle. */
async function bareNodeRss(): Promise<number> {
  const children = [0, 1, 2].map(() => spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' }));
  try {
    await sleep(2_000);
    return median(children.map((c) => rss(c.pid!)));
  } finally {
    for (const c of children) c.kill('SIGKILL');
  }
}

interface StatusJson {
  supervisor_pid: number;
  components: { name: string; pid?: number; status_port: number }[];
}

export async function benchMemory(): Promise<BenchRow[]> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-memory-'));
  const devbox = (args: string[]) => execa(process.execPath, [DEVBOX_BIN, ...args], { env: { DEVBOX_HOME: home }, reject: false, timeout: 90_000 });
  try {
    const up = await devbox(['up', '-d', '--port', String(await freePort())]);
    if (up.exitCode !== 0) throw new Error(`devbox up failed: ${up.stdout}${up.stderr}`);
    const status = JSON.parse((await devbox(['status', '--json'])).stdout) as StatusJson;
    const mysqlNode = status.components.find((c) => c.name === 'mysql-node');
    // The node starts its mariadbd in the background of `up`: idle means after that too.
    const mariadbd = await waitFor('the private mariadbd', () => {
      const comm = (pid: number) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8');
      return mysqlNode?.pid ? processTree(mysqlNode.pid).find((pid) => pid !== mysqlNode.pid && /mariadbd|mysqld/.test(comm(pid))) : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    await sleep(IDLE_MS);

    // Every component's processes (the router's workers with the router), mariadbd on its own.
    const groups = [
      { name: 'supervisor', pids: [status.supervisor_pid] },
      ...status.components.filter((c) => c.pid).map((c) => ({ name: c.name, pids: processTree(c.pid!, new Set([mariadbd])) })),
      { name: 'mariadbd (private)', pids: [mariadbd] },
    ];
    const samples = new Map<string, number[]>();
    const boxPss: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      if (i > 0) await sleep(1_000);
      for (const g of groups) samples.set(g.name, [...(samples.get(g.name) ?? []), sum(g.pids.map(rss))]);
      boxPss.push(sum(groups.flatMap((g) => g.pids).map(pss)));
    }
    const floor = await bareNodeRss();

    const rows: BenchRow[] = [];
    let total = 0;
    let nodeProcesses = 0;
    for (const g of groups) {
      const value = median(samples.get(g.name)!);
      total += value;
      const isNode = g.name !== 'mariadbd (private)';
      if (isNode) nodeProcesses += g.pids.length;
      const label = g.pids.length > 1 && isNode ? `${g.name} (${g.pids.length} processes)` : g.name;
      rows.push({
        name: `idle RSS: ${label}`,
        unit: 'MB',
        devbox: value / MB,
        ...(isNode ? { reference: (floor * g.pids.length) / MB, referenceName: g.pids.length > 1 ? `${g.pids.length} × bare node` : 'bare node' } : {}),
        higherIsBetter: false,
      });
    }
    const mariadbRss = median(samples.get('mariadbd (private)')!);
    rows.unshift({
      name: `idle RSS: whole box (supervisor, ${status.components.length} components, mariadbd; ${nodeProcesses} node processes)`,
      unit: 'MB',
      devbox: total / MB,
      reference: (floor * nodeProcesses + mariadbRss) / MB,
      referenceName: `${nodeProcesses} × bare node + mariadbd`,
      higherIsBetter: false,
    });
    rows.splice(1, 0, { name: 'idle PSS: whole box (shared pages split)', unit: 'MB', devbox: median(boxPss) / MB, higherIsBetter: false });
    return rows;
  } finally {
    await devbox(['down']);
    fs.rmSync(home, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) printTable(await benchMemory());
