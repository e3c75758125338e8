// The CLI's side of the logs component (docs/logs.md): an app's recent lines, and its live stream
// over WebSocket, both through the router at the API's `log_stream` link (logs.<domain>) with the
// session's token (refreshed once when the component refuses it).
//
// `streamAppLogs` is what `devbox logs` uses, and what `devbox push` calls to show the staging lines
// while it stages (see followStagingLogs for the simplest way to do that).
import { WebSocket, type RawData } from 'ws';
import { allAppLogs, type LogEnvelope } from '../runtime/common/bus-messages.js';
import type { ApiTransport } from './api/transport.js';
import { CliError } from './base-command.js';
import { isLoopbackName } from '../runtime/common/http.js';
import { formatLogLine } from './log-format.js';
import { backoffDelay, retry, waitFor } from '../runtime/common/poll.js';
import { NOT_LOGGED_IN } from './session.js';

// --- where the logs component is --------------------------------------------------------------

const endpoints = new WeakMap<ApiTransport, Promise<string>>();

/** The logs component's base URL: the API's `log_stream` link, else `logs.` in place of `api.`. */
export function logsBaseUrl(client: ApiTransport): Promise<string> {
  let url = endpoints.get(client);
  if (!url) {
    url = client
      .info()
      .then((info) => info.links.log_stream?.href ?? fallbackUrl(client.session.api))
      .catch(() => fallbackUrl(client.session.api))
      .then((href) => href.replace(/\/+$/, ''));
    endpoints.set(client, url);
  }
  return url;
}

function fallbackUrl(api: string): string {
  const url = new URL(api);
  url.hostname = url.hostname.replace(/^api\./, 'logs.');
  return url.origin;
}

// --- envelopes ----------------------------------------------------------------------------------

/** An envelope from the wire, or undefined when it is not one (a newer component's frame, garbage): the bus's check of a log line. */
export const readEnvelope = (value: unknown): LogEnvelope | undefined => (allAppLogs.check.is(value) ? value : undefined);

/** Enough to tell two lines apart (same time to the nanosecond, same source, same length). */
const lineKey = (e: LogEnvelope) => `${e.timestamp}|${e.source_type}/${e.source_instance}|${e.message_type}|${e.message.length}`;

function cfError(text: string): { title?: string; detail?: string } {
  try {
    return (JSON.parse(text) as { errors?: { title?: string; detail?: string }[] }).errors?.[0] ?? {};
  } catch {
    return {};
  }
}

/** A refusal that asking again will not change: not logged in, not allowed, no such app. */
function refusal(status: number, text: string, appGuid: string): CliError | undefined {
  const { title, detail } = cfError(text);
  if (status === 401) return new CliError(`${NOT_LOGGED_IN} (the logs component refused the token: ${detail ?? title ?? 'unauthorized'})`);
  if (status === 403) return new CliError(`You are not authorized to read the logs of app ${appGuid}.`);
  if (status === 404 && title === 'CF-ResourceNotFound') return new CliError(`App ${appGuid} not found (the logs component says so: it may have been deleted).`);
  return undefined;
}

// --- recent ----------------------------------------------------------------------------------------

/** The app's recent lines (the logs component's ring), oldest first; the newest `limit` when given. */
export async function recentLogs(client: ApiTransport, appGuid: string, { limit }: { limit?: number } = {}): Promise<LogEnvelope[]> {
  const base = await logsBaseUrl(client);
  const url = `${base}/apps/${encodeURIComponent(appGuid)}/recent${limit !== undefined ? `?limit=${limit}` : ''}`;
  // ApiTransport.send: the session's token, refreshed and sent again once on CF-InvalidAuthToken.
  const res = await client.send('GET', url);
  if (res.status !== 200) {
    const refused = refusal(res.status, res.text, appGuid);
    if (refused) throw refused;
    if (res.headers['x-cf-routererror'] === 'unknown_route') throw new CliError(`The router has no route to the logs component (${base}). Check it with 'devbox status'.`);
    throw new CliError(`The logs component answered HTTP ${res.status}: ${cfError(res.text).detail ?? (res.text.slice(0, 200) || '(no body)')}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.text);
  } catch {
    throw new CliError(`The logs component answered something that is not JSON: ${res.text.slice(0, 200)}`);
  }
  if (!Array.isArray(parsed)) throw new CliError('The logs component answered something that is not a list of log lines.');
  return parsed.map(readEnvelope).filter((e): e is LogEnvelope => e !== undefined);
}

// --- streaming -------------------------------------------------------------------------------------

export type LogStreamStatus =
  | { type: 'connected'; reconnected: boolean }
  | { type: 'disconnected'; reason: string; retryInMs: number };

export interface LogStreamOptions {
  /** Every line, in the order it arrives. */
  onLog(envelope: LogEnvelope): void;
  /** Connection changes, e.g. to say "reconnecting..." on stderr. */
  onStatus?(status: LogStreamStatus): void;
  /**
   * Reconnect (with backoff, forever) when the connection drops after it was open, e.g. while the
   * logs component restarts; after a reconnect the lines missed meanwhile are fetched from the
   * component's recent lines. Default true. With false the stream ends when the connection drops.
   */
  reconnect?: boolean;
  /** How long the first connection may take, retrying while the component is not reachable yet (default 10 s). */
  connectTimeoutMs?: number;
  /** Aborting closes the stream. */
  signal?: AbortSignal;
}

export interface LogStream {
  /** True while the WebSocket is open. */
  readonly connected: boolean;
  /**
   * Settles when the stream ends: resolves on close() or abort (or, without `reconnect`, when the
   * connection drops); rejects with a CliError when the component refuses for good (token refused
   * even after a refresh, the app deleted).
   */
  readonly done: Promise<void>;
  /** Resolves once no line has arrived for `quietMs` (or after `maxMs`): to print the last lines of a phase before moving on. */
  settle(quietMs?: number, maxMs?: number): Promise<void>;
  close(): void;
}

/** A failed connection attempt: `final` when trying again cannot help. */
class AttemptFailed extends Error {
  constructor(
    message: string,
    readonly final?: CliError,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Why a stream closed, in words: the server's reason, else what its close code means. */
function closeReason(code: number, reason: string): string {
  if (reason) return reason;
  if (code === 1006) return 'the connection was cut';
  if (code === 1001) return 'the logs component went away';
  return `closed with code ${code}`;
}

/** Between connection attempts, the first ones and the reconnects after a drop. */
const BACKOFF = { initialMs: 250, maxMs: 5_000 };
const SEEN_MAX = 10_000;

class AppLogStream implements LogStream {
  connected = false;
  readonly done: Promise<void>;
  private resolveDone!: () => void;
  private rejectDone!: (error: Error) => void;
  private ws?: WebSocket;
  private closed = false;
  private retryTimer?: NodeJS.Timeout;
  private lastLineAt = Date.now();
  private firstOpenNs = 0;
  /** Keys of the lines delivered lately, so that a backfill after a reconnect repeats none. */
  private readonly seen = new Set<string>();
  /** Lines that arrived while a backfill was being fetched. */
  private held?: LogEnvelope[];

  constructor(
    private readonly client: ApiTransport,
    private readonly appGuid: string,
    private readonly options: LogStreamOptions,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Nobody may be waiting on `done` (push only closes): an unobserved rejection must not crash the CLI.
    this.done.catch(() => undefined);
    options.signal?.addEventListener('abort', () => this.close(), { once: true });
  }

  /** The first connection: retried while the component is unreachable, up to connectTimeoutMs. */
  async open(): Promise<void> {
    try {
      await retry(() => (this.closed ? Promise.resolve() : this.connect(false)), {
        timeoutMs: this.options.connectTimeoutMs ?? 10_000,
        backoff: BACKOFF,
        // Only an attempt that failed and may work later; a refusal (token, app) or a refused
        // refresh (logged out) is said as it is.
        retryIf: (error) => error instanceof AttemptFailed && !error.final,
      });
    } catch (error) {
      if (!(error instanceof AttemptFailed)) throw error;
      throw error.final ?? new CliError(`Cannot stream the logs: ${error.message}. Check the logs component with 'devbox status'.`);
    }
  }

  async settle(quietMs = 200, maxMs = 2_000): Promise<void> {
    // Settled at maxMs even while lines keep coming: a chatty app must not hold the caller up.
    await waitFor('a pause in the log lines', () => this.closed || Date.now() - this.lastLineAt >= quietMs, { timeoutMs: maxMs, intervalMs: Math.min(25, quietMs), onTimeout: () => true });
  }

  close(): void {
    this.end();
  }

  /** Ends the stream: `done` resolves, or rejects with `error`. */
  private end(error?: CliError): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.connected = false;
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      if (ws.readyState === ws.CONNECTING) ws.terminate();
      else ws.close(1000);
    }
    if (error) this.rejectDone(error);
    else this.resolveDone();
  }

  /** One connection: resolves when open (with a token refreshed once if refused), rejects with AttemptFailed. */
  private async connect(reconnecting: boolean): Promise<void> {
    let attempt: { ws: WebSocket };
    try {
      attempt = await this.handshake(await this.client.session.accessToken());
    } catch (error) {
      if (!(error instanceof AttemptFailed) || error.status !== 401) throw error;
      attempt = await this.handshake(await this.client.session.refresh());
    }
    const { ws } = attempt;
    if (this.closed) {
      ws.terminate();
      return;
    }
    this.ws = ws;
    this.connected = true;
    if (!reconnecting) this.firstOpenNs = Date.now() * 1e6;
    else this.held = [];
    ws.on('message', (data: RawData, isBinary: boolean) => this.onFrame(data, isBinary));
    ws.once('close', (code: number, reason: Buffer) => this.onClose(ws, closeReason(code, reason.toString())));
    ws.on('error', () => undefined);
    this.options.onStatus?.({ type: 'connected', reconnected: reconnecting });
    if (reconnecting) await this.backfill();
  }

  private async handshake(token: string): Promise<{ ws: WebSocket }> {
    const base = new URL(await logsBaseUrl(this.client));
    const path = `/apps/${encodeURIComponent(this.appGuid)}/stream`;
    const connectHost = isLoopbackName(base.hostname) ? '127.0.0.1' : base.hostname;
    const url = `ws://${connectHost}:${base.port || 80}${path}`;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: { host: base.host, authorization: `bearer ${token}` },
        perMessageDeflate: false,
        handshakeTimeout: 10_000,
        maxPayload: 1024 * 1024,
      });
      let settled = false;
      const settle = (error?: AttemptFailed) => {
        if (settled) return;
        settled = true;
        if (error) {
          ws.removeAllListeners();
          ws.on('error', () => undefined);
          ws.terminate();
          reject(error);
        } else resolve({ ws });
      };
      ws.once('open', () => settle());
      ws.on('error', (error: Error & { code?: string }) => {
        const reason = error.code === 'ECONNREFUSED' ? `cannot connect to ${base.host} (is devbox running?)` : error.message;
        settle(new AttemptFailed(reason));
      });
      ws.once('unexpected-response', (req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', () => undefined);
        const finish = () => {
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          const routerError = res.headers['x-cf-routererror'];
          if (routerError) return settle(new AttemptFailed(`the router answered ${status} (${String(routerError)}): the logs component is not reachable`, undefined, status));
          if (status === 401) return settle(new AttemptFailed('token refused', refusal(status, text, this.appGuid), status));
          const refused = refusal(status, text, this.appGuid);
          settle(new AttemptFailed(`the logs component answered HTTP ${status}: ${cfError(text).detail ?? text.slice(0, 200)}`, refused, status));
        };
        res.on('end', finish);
        res.on('close', finish);
        req.on('error', () => undefined);
      });
    });
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    if (isBinary) return;
    let envelope: LogEnvelope | undefined;
    try {
      envelope = readEnvelope(JSON.parse(data.toString()));
    } catch {
      return;
    }
    if (!envelope) return;
    if (this.held) this.held.push(envelope);
    else this.deliver(envelope);
  }

  private deliver(envelope: LogEnvelope): void {
    const key = lineKey(envelope);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.seen.size > SEEN_MAX) {
      for (const old of this.seen) {
        this.seen.delete(old);
        if (this.seen.size <= SEEN_MAX * 0.9) break;
      }
    }
    this.lastLineAt = Date.now();
    try {
      this.options.onLog(envelope);
    } catch {
      // A caller's printing failure (a closed pipe) must not break the stream's bookkeeping.
    }
  }

  /** After a reconnect: the lines the component got while this stream was away, then those held meanwhile. */
  private async backfill(): Promise<void> {
    try {
      const recent = await recentLogs(this.client, this.appGuid);
      for (const envelope of recent) if (envelope.timestamp >= this.firstOpenNs && !this.closed) this.deliver(envelope);
    } catch {
      // the live stream goes on without the missed lines
    }
    const held = this.held ?? [];
    this.held = undefined;
    for (const envelope of held) if (!this.closed) this.deliver(envelope);
  }

  private onClose(ws: WebSocket, reason: string): void {
    if (this.ws !== ws || this.closed) return;
    this.ws = undefined;
    this.connected = false;
    if (this.options.reconnect === false) return this.end();
    this.scheduleReconnect(reason, 0);
  }

  /**
   * A timer rather than a retry() loop: a reconnect starts on a close event, goes on for as long as
   * the stream is open, and close() must cancel the wait at once.
   */
  private scheduleReconnect(reason: string, attempt: number): void {
    if (this.closed) return;
    const delay = backoffDelay(BACKOFF, attempt);
    this.options.onStatus?.({ type: 'disconnected', reason, retryInMs: delay });
    this.retryTimer = setTimeout(() => {
      this.connect(true).catch((error: unknown) => {
        if (error instanceof AttemptFailed && error.final) return this.end(error.final);
        // A refused refresh (logged out): trying again cannot help.
        if (error instanceof CliError) return this.end(error);
        this.scheduleReconnect((error as Error).message, attempt + 1);
      });
    }, delay);
  }
}

/**
 * Streams an app's logs: resolves once the WebSocket is open (every line the component receives from
 * then on reaches `onLog`), rejects with a CliError when the component refuses (token, app) or cannot
 * be reached within `connectTimeoutMs`.
 *
 *     const stream = await streamAppLogs(client, app.guid, { onLog: (e) => print(formatLogLine(e)) });
 *     ...
 *     await stream.settle();   // the last lines in flight
 *     stream.close();
 */
export async function streamAppLogs(client: ApiTransport, appGuid: string, options: LogStreamOptions): Promise<LogStream> {
  const stream = new AppLogStream(client, appGuid, options);
  await stream.open();
  return stream;
}

/**
 * For `devbox push`: prints the app's staging lines (`[STG/0]`) while it stages. Never fails: when
 * the logs component cannot be reached the push goes on without them. `stop()` waits briefly for
 * the last lines in flight, then closes.
 *
 *     const staging = await followStagingLogs(client, app.guid, (line) => this.log(line));
 *     const build = await stage(...);
 *     await staging.stop();
 */
export async function followStagingLogs(client: ApiTransport, appGuid: string, print: (line: string) => void, { color = false, connectTimeoutMs = 3_000 } = {}): Promise<{ stop(): Promise<void> }> {
  let stream: LogStream | undefined;
  try {
    stream = await streamAppLogs(client, appGuid, {
      onLog: (e) => {
        if (e.source_type === 'STG') print(formatLogLine(e, { color }));
      },
      reconnect: false,
      connectTimeoutMs,
    });
  } catch {
    stream = undefined;
  }
  return {
    async stop() {
      if (!stream) return;
      await stream.settle(200, 1_000);
      stream.close();
    },
  };
}
