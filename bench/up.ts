// `devbox up -d` until every component is healthy, and `devbox down`, as a user runs them: the real
// executable, a fresh state directory (first up generates secrets and keys) and a warm one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { freePort } from '../src/runtime/common/net.js';
import { DEVBOX_BIN } from '../src/runtime/supervisor/supervisor.js';
import { printTable, type BenchRow } from './lib.js';

async function timed(home: string, args: string[]): Promise<number> {
  const start = process.hrtime.bigint();
  const result = await execa(process.execPath, [DEVBOX_BIN, ...args], { env: { DEVBOX_HOME: home }, reject: false, timeout: 60_000 });
  if (result.exitCode !== 0) throw new Error(`devbox ${args.join(' ')} failed: ${result.stdout}${result.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function benchUp(runs = 5): Promise<BenchRow[]> {
  const first: number[] = [];
  const warm: number[] = [];
  const down: number[] = [];
  for (let i = 0; i < runs; i++) {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-up-'));
    const port = String(await freePort());
    try {
      first.push(await timed(home, ['up', '-d', '--port', port]));
      down.push(await timed(home, ['down']));
      warm.push(await timed(home, ['up', '-d', '--port', port]));
      await timed(home, ['down']);
    } finally {
      await execa(process.execPath, [DEVBOX_BIN, 'down'], { env: { DEVBOX_HOME: home }, reject: false });
      fs.rmSync(home, { recursive: true, force: true });
    }
  }
  return [
    { name: 'up -d to healthy (first up)', unit: 'ms', devbox: median(first), higherIsBetter: false },
    { name: 'up -d to healthy (again)', unit: 'ms', devbox: median(warm), higherIsBetter: false },
    { name: 'down', unit: 'ms', devbox: median(down), higherIsBetter: false },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) printTable(await benchUp());
