// Starts a real nats-server (the installed binary) on a free loopback port, for tests that must
// compare devbox with the reference server or run devbox against an external bus.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, isListening, waitFor } from '../../src/runtime/common/net.js';

export interface NatsServerProcess {
  url: string;
  host: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? 'nats-server';

export async function startNatsServer(options: { token?: string; args?: string[] } = {}): Promise<NatsServerProcess> {
  const port = await freePort();
  const args = ['-a', '127.0.0.1', '-p', String(port), ...(options.token ? ['--auth', options.token] : []), ...(options.args ?? [])];
  const child: ChildProcess = spawn(NATS_SERVER_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (error) => (stderr += String(error)));
  try {
    await waitFor(`nats-server on port ${port}`, async () => child.exitCode === null && (await isListening(port)), { timeoutMs: 10_000 });
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}; is nats-server installed (apt-get install nats-server)? ${stderr}`);
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
