// `npm run bench`: every benchmark in one run, one table, and the rows as JSON in bench/results/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchBuildpacks } from './buildpacks.js';
import { benchBus } from './bus.js';
import { benchCfPush } from './cf-push.js';
import { benchContainers } from './containers.js';
import { printTable, ratio, type BenchRow } from './lib.js';
import { benchLogs } from './logs.js';
import { benchMemory } from './memory.js';
import { benchPush } from './push.js';
import { benchServices } from './services.js';
import { benchUp } from './up.js';

const suites: [string, () => Promise<BenchRow[]>][] = [
  ['up', () => benchUp()],
  ['push', () => benchPush()],
  ['cf push', () => benchCfPush()],
  ['buildpacks', () => benchBuildpacks()],
  ['bus', () => benchBus()],
  ['logs', () => benchLogs()],
  ['services', () => benchServices()],
  ['memory', () => benchMemory()],
  ['containers', () => benchContainers()],
];
try {
  const { benchRouter } = (await import('./router.js')) as { benchRouter?: () => Promise<BenchRow[]> };
  if (benchRouter) suites.push(['router', benchRouter]);
} catch {
  // no router benchmark in this tree
}

const rows: BenchRow[] = [];
for (const [name, run] of suites) {
  process.stderr.write(`running ${name}...\n`);
  try {
    rows.push(...(await run()));
  } catch (error) {
    process.stderr.write(`${name} failed: ${(error as Error).message}\n`);
  }
}
printTable(rows);
const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');
fs.mkdirSync(dir, { recursive: true });
const file = path.join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memory_gb: Math.round(os.totalmem() / 2 ** 30), node: process.version };
fs.writeFileSync(file, `${JSON.stringify({ machine, rows: rows.map((r) => ({ ...r, ratio: ratio(r) })) }, null, 2)}\n`);
process.stderr.write(`results: ${file}\n`);
