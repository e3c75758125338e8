import net from 'node:net';

/**
 * Asks the OS for a free TCP port on a loopback address (listen on 0, read it, close). A port found
 * this way is only reserved by convention until someone binds it, and the OS may hand the same port
 * to the next caller: `exclude` lists ports already promised to others (the router's, the other
 * components'), which are never returned.
 */
export async function freePort(host = '127.0.0.1', { exclude = [] as Iterable<number> } = {}): Promise<number> {
  const taken = new Set(exclude);
  for (let attempt = 0; ; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.unref();
      server.once('error', reject);
      server.listen({ host, port: 0, exclusive: true }, () => {
        const address = server.address();
        const chosen = typeof address === 'object' && address ? address.port : 0;
        server.close(() => resolve(chosen));
      });
    });
    if (!taken.has(port) || attempt >= 50) return port;
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
