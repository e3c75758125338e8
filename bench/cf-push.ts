// `cf push` of the README's hello-world Node app with the real cf CLI (cf 8: $DEVBOX_CF_CLI, else
// ../shared/tools/cf-cli/cf) next to `devbox push` of the same app, interleaved in one run against
// one box, each until the router answers 200. cf does more round trips (apply_manifest and its job,
// a zip upload, polling builds and instances), so the ratio says what a cf user pays over devbox's CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { request } from '../src/runtime/common/http.js';
import { freePort } from '../src/runtime/common/net.js';
import { waitFor } from '../src/runtime/common/poll.js';
import { statePaths, type DevboxConfig } from '../src/runtime/common/config.js';
import { DEVBOX_BIN } from '../src/runtime/supervisor/supervisor.js';
import { printTable, type BenchRow } from './lib.js';

const APP = fileURLToPath(new URL('../templates/apps/hello-node', import.meta.url));
const CF = process.env.DEVBOX_CF_CLI ?? fileURLToPath(new URL('../../shared/tools/cf-cli/cf', import.meta.url));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function benchCfPush(runs = 3): Promise<BenchRow[]> {
  if (!fs.existsSync(CF)) throw new Error(`no cf CLI at ${CF}: set DEVBOX_CF_CLI`);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-cf-'));
  const cfHome = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-cf-home-'));
  const port = await freePort();
  const devbox = (args: string[]) => execa(process.execPath, [DEVBOX_BIN, ...args], { env: { DEVBOX_HOME: home }, cwd: APP, reject: false, timeout: 120_000 });
  const cf = async (args: string[]) => {
    const r = await execa(CF, args, { env: { CF_HOME: cfHome, CF_COLOR: 'false' }, cwd: APP, reject: false, timeout: 120_000 });
    if (r.exitCode !== 0) throw new Error(`cf ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  };
  /** ms from `since` until the app answers 200 through the router. */
  const firstOk = async (name: string, since: bigint) => {
    await waitFor(`${name} to answer`, async () => (await request({ url: `http://${name}.localhost:${port}/`, timeoutMs: 2_000 }).catch(() => undefined))?.status === 200, { timeoutMs: 60_000, intervalMs: 5 });
    return Number(process.hrtime.bigint() - since) / 1e6;
  };
  const withCf: number[] = [];
  const withDevbox: number[] = [];
  try {
    const up = await devbox(['up', '-d', '--port', String(port)]);
    if (up.exitCode !== 0) throw new Error(`devbox up failed: ${up.stdout}${up.stderr}`);
    const { admin } = (JSON.parse(fs.readFileSync(statePaths(home).config, 'utf8')) as DevboxConfig).uaa;
    await cf(['api', `http://127.0.0.1:${port}`]);
    await cf(['auth', admin.username, admin.password]);
    await cf(['target', '-o', 'devbox', '-s', 'dev']);
    for (let i = 0; i < runs; i++) {
      let start = process.hrtime.bigint();
      const pushed = await devbox(['push', `bench-devbox-${i}`, '--no-manifest']);
      if (pushed.exitCode !== 0) throw new Error(`devbox push failed: ${pushed.stdout}${pushed.stderr}`);
      withDevbox.push(await firstOk(`bench-devbox-${i}`, start));
      start = process.hrtime.bigint();
      await cf(['push', `bench-cf-${i}`, '-p', APP]);
      withCf.push(await firstOk(`bench-cf-${i}`, start));
    }
  } finally {
    await devbox(['down']);
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(cfHome, { recursive: true, force: true });
  }
  return [{ name: 'cf push hello-world to first 200 (real cf 8)', unit: 'ms', devbox: median(withCf), reference: median(withDevbox), referenceName: 'devbox push', higherIsBetter: false }];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) printTable(await benchCfPush());
