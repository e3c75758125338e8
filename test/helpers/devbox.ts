// Runs the real devbox executable (bin/run.js, the built dist/) against a temporary DEVBOX_HOME,
// and cleans up after: `devbox down`, then kill -9 of anything the test's box left behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type Result } from 'execa';
import { DEVBOX_BIN } from '../../src/runtime/supervisor/supervisor.js';
import { readSupervisor } from '../../src/runtime/supervisor/lock.js';
import { statePaths } from '../../src/runtime/common/config.js';
import { freePort, waitFor } from '../../src/runtime/common/net.js';

export { DEVBOX_BIN };

export function tempHome(prefix = 'devbox-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface DevboxResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `devbox ARGS` to completion with DEVBOX_HOME=home (bounded by timeoutMs). An `up` gets a free
 * HTTPS port from the OS (DEVBOX_TLS_PORT, what `--tls-port` reads) unless the test chose one: never
 * the default 8443, which the machine's own box or another test's may hold.
 */
export async function devbox(home: string, args: string[], { timeoutMs = 30_000, env = {} as Record<string, string> } = {}): Promise<DevboxResult> {
  const tls = args[0] === 'up' && !args.includes('--tls-port') && env.DEVBOX_TLS_PORT === undefined ? { DEVBOX_TLS_PORT: String(await freePort()) } : {};
  const result: Result = await execa(process.execPath, [DEVBOX_BIN, ...args], {
    env: { DEVBOX_HOME: home, NO_COLOR: '1', ...tls, ...env },
    extendEnv: true,
    stdin: 'ignore',
    reject: false,
    timeout: timeoutMs,
  });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitForExit(pid: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(`pid ${pid} to exit`, () => !isPidAlive(pid), { timeoutMs });
}

/** Every pid the box in `home` is known to run: the supervisor and each component's (from /varz via status). */
export async function boxPids(home: string): Promise<number[]> {
  const pids: number[] = [];
  const supervisor = readSupervisor(statePaths(home).pidFile);
  if (supervisor) pids.push(supervisor.pid);
  const status = await devbox(home, ['status', '--json'], { timeoutMs: 10_000 });
  if (status.exitCode === 0 || status.stdout.trim().startsWith('{')) {
    try {
      const parsed = JSON.parse(status.stdout) as { components: { pid?: number }[] };
      for (const c of parsed.components) if (c.pid) pids.push(c.pid);
    } catch {
      // not running
    }
  }
  return pids;
}

/** Stops the box if it runs, kills whatever of it survived, removes the state directory. */
export async function cleanupBox(home: string): Promise<void> {
  const pids = await boxPids(home).catch(() => [] as number[]);
  await devbox(home, ['down'], { timeoutMs: 30_000 }).catch(() => undefined);
  for (const pid of pids) {
    if (isPidAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  fs.rmSync(home, { recursive: true, force: true });
}
