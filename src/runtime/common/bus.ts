// Connecting a component to the bus: devbox's embedded NATS server or an external nats-server
// (cluster). Components reconnect forever: the bus may restart under them at any time.
import { connect, Empty, ErrorCode, Events, JSONCodec, RequestStrategy, type ConnectionOptions, type Msg, type NatsConnection, type Subscription } from 'nats';
import type { Check, Contract, RequestContract } from './bus-messages.js';
import type { Logger } from './log.js';
import { redactUrl } from './log.js';

export type { Msg, NatsConnection, Subscription };

const json = JSONCodec();

export interface BusAddress {
  servers: string[];
  token?: string;
  user?: string;
  pass?: string;
}

/**
 * Parses one URL or a comma-separated list (a cluster). Credentials may be embedded as
 * `nats://TOKEN@host:port` (a token, as devbox's own bus uses) or `nats://user:pass@host:port`.
 */
export function parseNatsUrl(urls: string): BusAddress {
  const address: BusAddress = { servers: [] };
  for (const raw of urls.split(',').map((u) => u.trim()).filter(Boolean)) {
    const url = new URL(raw.includes('://') ? raw : `nats://${raw}`);
    if (url.protocol !== 'nats:' && url.protocol !== 'tls:') {
      throw new Error(`'${redactUrl(raw)}' is not a NATS URL; expected nats://[token@]host:port`);
    }
    if (url.username && url.password) {
      address.user = decodeURIComponent(url.username);
      address.pass = decodeURIComponent(url.password);
    } else if (url.username) {
      address.token = decodeURIComponent(url.username);
    }
    address.servers.push(`${url.hostname}:${url.port || '4222'}`);
  }
  if (address.servers.length === 0) throw new Error('no NATS URL given; expected nats://[token@]host:port');
  return address;
}

/** The URL of devbox's own bus with its token, as `devbox status --json` prints it. */
export function embeddedBusUrl(port: number, token: string, host = '127.0.0.1'): string {
  return `nats://${encodeURIComponent(token)}@${host}:${port}`;
}

export async function connectBus(url: string, { name, log }: { name: string; log?: Logger }): Promise<NatsConnection> {
  const address = parseNatsUrl(url);
  const options: ConnectionOptions = {
    servers: address.servers,
    name,
    token: address.token,
    user: address.user,
    pass: address.pass,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 200,
    reconnectJitter: 50,
    waitOnFirstConnect: true,
    pingInterval: 20_000,
  };
  const nc = await connect(options);
  if (log) void watchStatus(nc, log);
  return nc;
}

async function watchStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const status of nc.status()) {
    if (status.type === Events.Disconnect) log.warn('bus disconnected', { server: String(status.data) });
    else if (status.type === Events.Reconnect) log.info('bus reconnected', { server: String(status.data) });
    else if (status.type === Events.Error) log.error('bus error', { error: String(status.data) });
  }
}

/**
 * A word that can stand as one token of a subject, and in a file name: letters, digits, `-` and
 * `_`, up to 64 (ids of DEAs and nodes, app guids in `logs.<guid>`).
 */
export const isSubjectToken = (word: string): boolean => /^[A-Za-z0-9_-]{1,64}$/.test(word);

/** Decodes a JSON payload; returns undefined (and the caller logs) for anything malformed. */
export function decodeJson<T>(data: Uint8Array): T | undefined {
  try {
    return json.decode(data) as T;
  } catch {
    return undefined;
  }
}

// ---- messages by contract (bus-messages.ts) ----------------------------------------------------

/** A message with no body (undefined) goes out empty, as `router.greet` and `vcap.component.discover` do. */
const encodeMessage = (message: unknown): Uint8Array => (message === undefined ? Empty : json.encode(message));

/**
 * A payload checked against its contract: the message, or why it was refused. An empty payload is
 * an absent body (undefined); a payload that is not JSON is refused unless the contract ignores the body.
 */
function readMessage<T>(data: Uint8Array, checked: Check<T>): { message: T } | { reason: string } {
  let value: unknown;
  let readable = true;
  if (data.length > 0) {
    try {
      value = json.decode(data);
    } catch {
      readable = false;
    }
  }
  const problem = checked.problem(value);
  if (problem === undefined) return { message: value as T };
  return { reason: readable ? problem : 'not JSON' };
}

/** A reply that failed its contract's check (request). */
export class MalformedReply extends Error {
  constructor(
    readonly subject: string,
    readonly reason: string,
  ) {
    super(`the reply to ${subject} is malformed: ${reason}`);
  }
}

/** Publishes a message on its contract's subject. */
export function publish<T>(nc: NatsConnection, contract: Contract<T>, message: T): void {
  nc.publish(contract.subject, encodeMessage(message));
}

/** Answers a request received on `contract`'s subject (nothing when it asked for no reply). */
export function respond<R>(nc: NatsConnection, msg: Msg, contract: RequestContract<unknown, R>, answer: R): void {
  if (msg.reply && !nc.isClosed()) nc.publish(msg.reply, encodeMessage(answer));
}

export interface SubscribeOptions {
  log: Logger;
  /** A queue group: one member of the group gets each message. */
  queue?: string;
  /**
   * Called for each message that failed its check, after it was logged: to count it, or to answer a
   * request at once rather than leave its requester waiting for a timeout.
   */
  rejected?: (reason: string, msg: Msg) => void;
}

/** A malformed message is said at most this often per subscription: a bad publisher must not flood the log. */
const REJECTION_LOG_INTERVAL_MS = 10_000;

/**
 * Subscribes to a contract's subject. A message that fails the contract's check is logged (subject
 * and reason, never the payload: it may carry secrets) and dropped; the handler never sees it. A
 * throwing handler is logged too: one bad message must never take a component down.
 */
export function subscribe<T>(
  nc: NatsConnection,
  contract: Contract<T>,
  handler: (message: T, msg: Msg) => void | Promise<void>,
  { log, queue, rejected }: SubscribeOptions,
): Subscription {
  const { subject } = contract;
  let loggedAt = -Infinity;
  let unlogged = 0;
  const failed = (error: unknown, msg: Msg) => log.error('message handler failed', { subject: msg.subject, error: (error as Error).message });
  return nc.subscribe(subject, {
    queue,
    callback: (err, msg) => {
      if (err) {
        log.error('subscription error', { subject, error: err.message });
        return;
      }
      const read = readMessage(msg.data, contract.check);
      if ('reason' in read) {
        unlogged++;
        if (Date.now() - loggedAt >= REJECTION_LOG_INTERVAL_MS) {
          log.warn('dropped a malformed message', { subject: msg.subject, reason: read.reason, bytes: msg.data.length, dropped: unlogged });
          loggedAt = Date.now();
          unlogged = 0;
        }
        rejected?.(read.reason, msg);
        return;
      }
      try {
        const done = handler(read.message, msg);
        if (done instanceof Promise) done.catch((error: unknown) => failed(error, msg));
      } catch (error) {
        failed(error, msg);
      }
    },
  });
}

/** Sends a request and waits for one reply; throws nats' errors (timeout, 503 no responders) and MalformedReply. */
export async function request<T, R>(nc: NatsConnection, contract: RequestContract<T, R>, message: T, { timeout }: { timeout: number }): Promise<R> {
  const msg = await nc.request(contract.subject, encodeMessage(message), { timeout });
  const read = readMessage(msg.data, contract.reply);
  if ('reason' in read) throw new MalformedReply(contract.subject, read.reason);
  return read.message;
}

export interface RequestManyOptions {
  log: Logger;
  /** Gather for at most this long. */
  maxWait: number;
  /** Stop this long after the latest reply (when repliers answer together). */
  jitter?: number;
  /** Stop after this many replies. */
  maxMessages?: number;
}

/**
 * Sends a request and yields the replies that pass the contract's check (others are logged and
 * skipped) until `maxWait`, `jitter` or `maxMessages` ends the gathering. Nobody answering (no
 * responders) yields nothing.
 */
export async function* requestMany<T, R>(
  nc: NatsConnection,
  contract: RequestContract<T, R>,
  message: T,
  { log, maxWait, jitter, maxMessages }: RequestManyOptions,
): AsyncGenerator<R, void, undefined> {
  const strategy = jitter !== undefined ? RequestStrategy.JitterTimer : RequestStrategy.Timer;
  try {
    const replies = await nc.requestMany(contract.subject, encodeMessage(message), { strategy, maxWait, jitter, maxMessages });
    for await (const msg of replies) {
      const read = readMessage(msg.data, contract.reply);
      if ('reason' in read) log.warn('dropped a malformed reply', { subject: contract.subject, reason: read.reason, bytes: msg.data.length });
      else yield read.message;
    }
  } catch (error) {
    if ((error as { code?: string }).code !== ErrorCode.NoResponders) throw error;
  }
}
