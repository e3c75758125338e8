import fs from 'node:fs';
import net from 'node:net';

/** The lowest port the kernel hands out for outgoing connections (`ip_local_port_range`). */
function ephemeralFloor(): number {
  try {
    const low = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > PICK_FLOOR + 1000 ? low : 32768;
  } catch {
    return 32768;
  }
}

/** Ports below this are left to well-known services (MariaDB 3306, NATS 4222, 8080, 8443...). */
const PICK_FLOOR = 10_000;

/** Binds host:port and closes it again: whether it was free (undefined when `port` 0 gave none). */
function tryListen(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(undefined));
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const chosen = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(chosen));
    });
  });
}

/**
 * A free TCP port on a loopback address, checked free by the OS (bound, then closed). It is only
 * reserved by convention until someone binds it, so it is picked below the kernel's ephemeral range
 * (`ip_local_port_range`): a port from that range can be taken meanwhile as the local port of any
 * outgoing connection (a component's to the bus), and the listener that wanted it then fails with
 * EADDRINUSE. `exclude` lists ports already promised to others (the router's, the other
 * components'), which are never returned. Falls back to a port the OS picks (listen on 0).
 */
export async function freePort(host = '127.0.0.1', { exclude = [] as Iterable<number> } = {}): Promise<number> {
  const taken = new Set(exclude);
  const ceiling = ephemeralFloor();
  for (let attempt = 0; attempt < 50; attempt++) {
    const candidate = PICK_FLOOR + Math.floor(Math.random() * (ceiling - PICK_FLOOR));
    if (taken.has(candidate)) continue;
    if ((await tryListen(host, candidate)) !== undefined) return candidate;
  }
  for (let attempt = 0; ; attempt++) {
    const port = await tryListen(host, 0);
    if (port !== undefined && (!taken.has(port) || attempt >= 50)) return port;
    if (port === undefined && attempt >= 50) throw new Error(`no free port on ${host}`);
  }
}

/** True when something accepts TCP connections on host:port. */
export async function isListening(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

// The waits moved to poll.ts; re-exported for the code and tests that import them from here.
export { sleep, waitFor } from './poll.js';
