// `devbox push` of the README's hello-world Node app until the router answers 200, and a re-push of
// the unchanged app (resource matching leaves nothing to upload), as a user runs them: the real CLI
// against a real box. Also the time of a small command (`devbox apps`, one API call) from start to
// exit, against a bare `node -e 0`: what every CLI command pays before it does anything.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { request } from '../src/runtime/common/http.js';
import { freePort, sleep } from '../src/runtime/common/net.js';
import { DEVBOX_BIN } from '../src/runtime/supervisor/supervisor.js';
import { printTable, type BenchRow } from './lib.js';

const APP = fileURLToPath(new URL('../templates/apps/hello-node', import.meta.url));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function benchPush(runs = 3): Promise<BenchRow[]> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-push-'));
  const port = await freePort();
  const devbox = (args: string[]) => execa(process.execPath, [DEVBOX_BIN, ...args], { env: { DEVBOX_HOME: home }, cwd: APP, reject: false, timeout: 120_000 });
  const firstOk = async (name: string, since: bigint) => {
    for (;;) {
      const res = await request({ url: `http://${name}.localhost:${port}/`, timeoutMs: 2_000 }).catch(() => undefined);
      if (res?.status === 200) return Number(process.hrtime.bigint() - since) / 1e6;
      await sleep(5);
    }
  };
  const first: number[] = [];
  const again: number[] = [];
  const command: number[] = [];
  const bareNode: number[] = [];
  const timed = async (run: () => Promise<unknown>) => {
    const start = process.hrtime.bigint();
    await run();
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  try {
    const up = await devbox(['up', '-d', '--port', String(port)]);
    if (up.exitCode !== 0) throw new Error(`devbox up failed: ${up.stdout}${up.stderr}`);
    for (let i = 0; i < runs; i++) {
      const name = `bench-${i}`;
      let start = process.hrtime.bigint();
      const pushed = await devbox(['push', name, '--no-manifest']);
      if (pushed.exitCode !== 0) throw new Error(`push failed: ${pushed.stdout}${pushed.stderr}`);
      first.push(await firstOk(name, start));
      start = process.hrtime.bigint();
      const repushed = await devbox(['push', name, '--no-manifest']);
      if (repushed.exitCode !== 0) throw new Error(`re-push failed: ${repushed.stdout}${repushed.stderr}`);
      again.push(await firstOk(name, start));
    }
    for (let i = 0; i < 5; i++) {
      command.push(await timed(() => devbox(['apps'])));
      bareNode.push(await timed(() => execa(process.execPath, ['-e', '0'])));
    }
  } finally {
    await devbox(['down']);
    fs.rmSync(home, { recursive: true, force: true });
  }
  return [
    { name: 'push hello-world to first 200', unit: 'ms', devbox: median(first), higherIsBetter: false },
    { name: 're-push unchanged to first 200', unit: 'ms', devbox: median(again), higherIsBetter: false },
    { name: 'CLI command start to exit (devbox apps)', unit: 'ms', devbox: median(command), reference: median(bareNode), referenceName: 'node -e 0', higherIsBetter: false },
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) printTable(await benchPush());
