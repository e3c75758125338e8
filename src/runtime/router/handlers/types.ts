// What a handler sees of a request in flight, and the hooks it can implement. The proxy calls the
// handlers in the order they were composed (handlers/index.ts), one hook at a time.
import type { RequestHead, ResponseHead } from '../http.js';
import type { Endpoint, Pool } from '../registry.js';

export interface RequestInfo {
  /** X-Vcap-Request-Id: a new UUID per request. */
  id: string;
  /** Epoch ms when the request head was read. */
  startedAt: number;
  /** performance.now() when the request head was read (for durations). */
  startedHr: number;
  /** performance.now() when the exchange ended (0 until then). */
  finishedHr: number;
  head: RequestHead;
  /** The Host header normalised (lower case, no port). */
  host: string;
  clientIp: string;
  clientPort: number;
  /** The request came over the router's TLS port (it was HTTPS). */
  tls: boolean;
  pool?: Pool;
  endpoint?: Endpoint;
  /** The response status as sent to the client (0 until known; 499 if the client went away). */
  status: number;
  /** Request body bytes forwarded to the backend. */
  bytesIn: number;
  /** Response body bytes forwarded to the client. */
  bytesOut: number;
  /** X-Cf-RouterError of a response the router made itself ('' otherwise). */
  routerError: string;
  response?: ResponseHead;
}

/** A response the router writes itself (health check, 404, 502...). */
export interface LocalResponse {
  status: number;
  body: string;
  routerError?: string;
}

export interface Handler {
  readonly name: string;
  /** Request fields (lower case) this handler replaces: dropped from the forwarded request. */
  readonly replacesRequestHeaders?: readonly string[];
  /** Before the route lookup: answer the request locally, or return undefined to go on. */
  request?(req: RequestInfo): LocalResponse | undefined;
  /** Picks the endpoint instead of round-robin (sticky sessions), or undefined to let round-robin pick. */
  choose?(req: RequestInfo): Endpoint | undefined;
  /** Header lines to add to the forwarded request, each ending in CRLF. */
  requestHeaders?(req: RequestInfo): string;
  /** Header lines to add to the response, each ending in CRLF. */
  responseHeaders?(req: RequestInfo, res: ResponseHead): string;
  /** The exchange is over (response complete, failed, or the client went away). */
  done?(req: RequestInfo): void;
}
