// Every component's status server, as Cloud Foundry components had: /healthz and /varz behind
// basic auth, on a loopback port of its own.
import { timingSafeEqual } from 'node:crypto';
import { createHttpServer } from './http.js';

export interface StatusServerOptions {
  host?: string;
  port: number;
  user: string;
  password: string;
  healthy: () => boolean;
  varz: () => Record<string, unknown>;
}

export interface StatusServer {
  port: number;
  close(): Promise<void>;
}

export function basicAuthMatches(header: string | undefined, user: string, password: string): boolean {
  if (!header?.startsWith('Basic ')) return false;
  const given = Buffer.from(header.slice(6), 'base64');
  const expected = Buffer.from(`${user}:${password}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  // The box's guards (common/http.ts): a request that trickles in does not hold a connection open.
  const server = createHttpServer((req, res) => {
    if (!basicAuthMatches(req.headers.authorization, options.user, options.password)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="devbox"', 'Content-Type': 'text/plain' });
      res.end('401 Unauthorized\n');
      return;
    }
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/healthz') {
      const ok = options.healthy();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(ok ? 'ok' : 'unhealthy');
    } else if (url === '/varz') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(options.varz()));
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('404 Not Found\n');
    }
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host ?? '127.0.0.1', port: options.port }, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
