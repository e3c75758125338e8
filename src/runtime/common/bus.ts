// Connecting a component to the bus: devbox's embedded NATS server or an external nats-server
// (cluster). Components reconnect forever: the bus may restart under them at any time.
import { connect, Events, JSONCodec, type ConnectionOptions, type Msg, type NatsConnection, type Subscription } from 'nats';
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

export const encodeJson = (value: unknown): Uint8Array => json.encode(value);

/** Decodes a JSON payload; returns undefined (and the caller logs) for anything malformed. */
export function decodeJson<T>(data: Uint8Array): T | undefined {
  try {
    return json.decode(data) as T;
  } catch {
    return undefined;
  }
}

export function publishJson(nc: NatsConnection, subject: string, value: unknown, reply?: string): void {
  nc.publish(subject, json.encode(value), reply ? { reply } : undefined);
}

/**
 * Subscribes with a JSON handler. A malformed payload or a throwing handler is logged and dropped:
 * one bad message must never take a component down.
 */
export function subscribeJson<T>(
  nc: NatsConnection,
  subject: string,
  handler: (value: T, msg: Msg) => void | Promise<void>,
  { log, queue }: { log: Logger; queue?: string },
): Subscription {
  return nc.subscribe(subject, {
    queue,
    callback: (err, msg) => {
      if (err) {
        log.error('subscription error', { subject, error: err.message });
        return;
      }
      const value = decodeJson<T>(msg.data);
      if (value === undefined || value === null || typeof value !== 'object') {
        log.warn('dropped a malformed message', { subject: msg.subject, bytes: msg.data.length });
        return;
      }
      Promise.resolve()
        .then(() => handler(value, msg))
        .catch((error: unknown) => log.error('message handler failed', { subject: msg.subject, error: (error as Error).message }));
    },
  });
}
