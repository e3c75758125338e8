// The router on the bus (DESIGN.md §4): it takes router.register / router.unregister into its
// route table, announces itself with router.start when it starts and after every reconnect (so
// registrants register again at once), and answers router.greet with the same payload.
import { Events } from 'nats';
import { decodeJson, publishJson, type NatsConnection, type Subscription } from '../common/bus.js';
import type { Logger } from '../common/log.js';
import { invalidRegistration, type RegisterMessage } from './registry.js';

export interface RouterStartMessage {
  id: string;
  hosts: string[];
  minimumRegisterIntervalInSeconds: number;
  pruneThresholdInSeconds: number;
}

/** What the bus side drives: the route table (in this process, or relayed to worker processes). */
export interface RouteSink {
  register(msg: RegisterMessage, at: number): void;
  unregister(msg: RegisterMessage, at: number): void;
  /** The bus went away (no refresh can arrive: pruning pauses) or came back. */
  busDown(at: number): void;
  busUp(at: number): void;
}

export interface RouterBusOptions {
  start: RouterStartMessage;
  sink: RouteSink;
  log: Logger;
}

export class RouterBus {
  private readonly subs: Subscription[] = [];
  private closed = false;
  /** router.start messages sent (for /varz). */
  announcements = 0;
  registrations = 0;
  unregistrations = 0;
  rejected = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: RouterBusOptions,
  ) {}

  start(): void {
    const { sink, log } = this.options;
    const route = (subject: string, apply: (msg: RegisterMessage, at: number) => void) =>
      this.nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return log.error('subscription error', { subject, error: err.message });
          const value = decodeJson<RegisterMessage>(msg.data);
          const invalid = invalidRegistration(value);
          if (invalid !== undefined) {
            this.rejected++;
            log.warn('dropped a malformed registration', { subject, reason: invalid, bytes: msg.data.length });
            return;
          }
          try {
            apply(value!, Date.now());
          } catch (error) {
            log.error('registration failed', { subject, error: (error as Error).message });
          }
        },
      });
    this.subs.push(
      route('router.register', (msg, at) => {
        this.registrations++;
        sink.register(msg, at);
      }),
      route('router.unregister', (msg, at) => {
        this.unregistrations++;
        sink.unregister(msg, at);
      }),
      this.nc.subscribe('router.greet', {
        callback: (_err, msg) => {
          if (msg.reply) publishJson(this.nc, msg.reply, this.options.start);
        },
      }),
    );
    this.announce();
    void this.watch();
  }

  /** Publishes router.start: registrants answer by registering everything they have. */
  announce(): void {
    if (this.closed || this.nc.isClosed()) return;
    publishJson(this.nc, 'router.start', this.options.start);
    this.announcements++;
  }

  private async watch(): Promise<void> {
    const { sink, log } = this.options;
    for await (const status of this.nc.status()) {
      if (this.closed) break;
      if (status.type === Events.Disconnect) {
        sink.busDown(Date.now());
      } else if (status.type === Events.Reconnect) {
        sink.busUp(Date.now());
        log.info('announcing router.start after reconnecting to the bus');
        this.announce();
      }
    }
  }

  stop(): void {
    this.closed = true;
    for (const sub of this.subs) sub.unsubscribe();
  }
}
