// The clients streaming an app's logs over WebSocket: each new record goes to every client of its
// app as one JSON text frame. A client that does not keep up (more than `maxBufferedBytes` waiting to
// be sent) is dropped rather than buffered without bound, and a client that stops answering pings is
// dropped too.
import type { WebSocket } from 'ws';
import type { LogRecord } from './envelope.js';

export interface StreamHubOptions {
  pingMs: number;
  maxBufferedBytes: number;
}

export interface StreamCounters {
  /** Clients that ever connected. */
  connected: number;
  /** Frames sent. */
  sent: number;
  slow_clients_dropped: number;
  dead_clients_dropped: number;
}

/** Close codes: 1001 going away (the component stops), 1008 policy (too slow). */
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_TOO_SLOW = 1008;

interface Client {
  ws: WebSocket;
  guid: string;
  alive: boolean;
}

export class StreamHub {
  readonly counters: StreamCounters = { connected: 0, sent: 0, slow_clients_dropped: 0, dead_clients_dropped: 0 };
  private readonly byApp = new Map<string, Set<Client>>();
  private readonly pinger: NodeJS.Timeout;
  private count = 0;

  constructor(private readonly options: StreamHubOptions) {
    this.pinger = setInterval(() => this.ping(), options.pingMs);
    this.pinger.unref();
  }

  /** Clients streaming now. */
  get clients(): number {
    return this.count;
  }

  add(guid: string, ws: WebSocket): void {
    const client: Client = { ws, guid, alive: true };
    let set = this.byApp.get(guid);
    if (!set) this.byApp.set(guid, (set = new Set()));
    set.add(client);
    this.count++;
    this.counters.connected++;
    ws.on('pong', () => (client.alive = true));
    // Clients have nothing to say; whatever they send is ignored.
    ws.on('message', () => undefined);
    ws.on('error', () => ws.terminate());
    ws.once('close', () => this.remove(client));
  }

  publish(record: LogRecord): void {
    const set = this.byApp.get(record.envelope.app_guid);
    if (!set) return;
    for (const client of set) {
      if (client.ws.readyState !== client.ws.OPEN) continue;
      if (client.ws.bufferedAmount > this.options.maxBufferedBytes) {
        this.counters.slow_clients_dropped++;
        this.drop(client, CLOSE_TOO_SLOW, 'too slow: log lines were not read fast enough');
        continue;
      }
      client.ws.send(record.json);
      this.counters.sent++;
    }
  }

  /** Closes every client (the component stops). */
  close(): void {
    clearInterval(this.pinger);
    for (const set of this.byApp.values()) for (const client of set) this.drop(client, CLOSE_GOING_AWAY, 'the logs component is stopping');
  }

  private ping(): void {
    for (const set of this.byApp.values()) {
      for (const client of set) {
        if (!client.alive) {
          this.counters.dead_clients_dropped++;
          this.remove(client);
          client.ws.terminate();
          continue;
        }
        client.alive = false;
        client.ws.ping();
      }
    }
  }

  /** Stops sending to the client and closes it; a client that cannot take the close frame is cut off. */
  private drop(client: Client, code: number, reason: string): void {
    this.remove(client);
    client.ws.close(code, reason);
    setTimeout(() => client.ws.terminate(), 1_000).unref();
  }

  private remove(client: Client): void {
    const set = this.byApp.get(client.guid);
    if (!set?.delete(client)) return;
    this.count--;
    if (set.size === 0) this.byApp.delete(client.guid);
  }
}
