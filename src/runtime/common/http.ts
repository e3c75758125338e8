// HTTP to devbox's endpoints through the router, for the CLI and the components alike.
// `api.localhost` and friends resolve to loopback in browsers and curl, but not in Node's resolver,
// so requests go to 127.0.0.1:<router port> with the endpoint's Host header.
import http from 'node:http';
import { waitFor } from './poll.js';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface RouterRequest {
  /** A full URL such as http://api.localhost:8080/v3/apps; its host becomes the Host header. */
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
  /** Connect here instead of resolving the URL's host (default 127.0.0.1 for *.localhost). */
  connectTo?: string;
  /**
   * When the router answers 404 `X-Cf-RouterError: unknown_route` (the component has not registered
   * its route yet, e.g. just after `devbox up` or a component restart), ask again for up to this long.
   * Safe for any method: the router forwarded nothing.
   */
  routeWaitMs?: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

/** Where to connect for a URL: *.localhost names at 127.0.0.1, others as they are. */
export function connectTarget(url: URL): { hostname: string; port: number } {
  return { hostname: isLoopbackName(url.hostname) ? '127.0.0.1' : url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || 80 };
}

export function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '127.0.0.1' || hostname === '[::1]';
}

export async function request(req: RouterRequest): Promise<HttpResponse> {
  let last: HttpResponse | undefined;
  return waitFor(
    `the router to route ${req.url}`,
    async () => {
      last = await requestOnce(req);
      const unknownRoute = last.status === 404 && last.headers['x-cf-routererror'] === 'unknown_route';
      return unknownRoute ? undefined : last;
    },
    // Out of time (or none given): the router's 404 is the answer (`last` is set: time runs out only after a check).
    { timeoutMs: req.routeWaitMs ?? 0, intervalMs: 100, retryIf: () => false, onTimeout: () => last as HttpResponse },
  );
}

function requestOnce({ url, method = 'GET', headers = {}, body, timeoutMs = 30_000, connectTo }: RouterRequest): Promise<HttpResponse> {
  const length: Record<string, string> = body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {};
  return exchange({ url, method, headers: { ...headers, ...length }, timeoutMs, connectTo }, (req) => req.end(body));
}

export interface StreamRequest extends Omit<RouterRequest, 'body' | 'routeWaitMs'> {
  /** The body, sent as it is produced (chunked transfer encoding). */
  body: AsyncIterable<Buffer>;
}

/**
 * A request whose body is streamed (package uploads), never repeated: the body is read once. An
 * error while producing the body abandons the request and rejects with that error.
 */
export function streamRequest({ url, method = 'POST', headers = {}, body, timeoutMs = 10 * 60_000, connectTo }: StreamRequest): Promise<HttpResponse> {
  return exchange({ url, method, headers: { ...headers, 'transfer-encoding': 'chunked' }, timeoutMs, connectTo }, (req) => {
    void (async () => {
      try {
        for await (const chunk of body) {
          if (!req.write(chunk)) await new Promise<void>((resume) => req.once('drain', resume));
          if (req.destroyed) return;
        }
        req.end();
      } catch (error) {
        // The body could not be produced (a file vanished, ...): abandon the request with that reason.
        req.destroy(error as Error);
      }
    })();
  });
}

/** One HTTP exchange through the router: `send` writes the body; the whole response is collected. */
function exchange(
  { url, method, headers, timeoutMs, connectTo }: { url: string; method: string; headers: Record<string, string>; timeoutMs: number; connectTo?: string },
  send: (req: http.ClientRequest) => void,
): Promise<HttpResponse> {
  const target = new URL(url);
  const hostname = connectTo ?? connectTarget(target).hostname;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { agent, hostname, port: target.port || 80, method, path: `${target.pathname}${target.search}`, headers: { host: target.host, ...headers }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${target.host} within ${timeoutMs / 1000} s`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') reject(new Error(`cannot connect to ${target.host} (${hostname}:${target.port || 80}); is devbox running? Start it with 'devbox up'`));
      else reject(error);
    });
    send(req);
  });
}
