// The router on the bus (DESIGN.md §4): it takes router.register / router.unregister into its
// route table, announces itself with router.start when it starts and after every reconnect (so
// registrants register again at once), and answers router.greet with the same payload.
import { Events } from 'nats';
import { publish, respond, subscribe, type NatsConnection, type Subscription } from '../common/bus.js';
import { routerGreet, routerRegister, routerStart, routerUnregister, type RouterRegisterMessage, type RouterStartMessage } from '../common/bus-messages.js';
import type { Logger } from '../common/log.js';

/** What the bus side drives: the route table (in this process, or relayed to worker processes). */
export interface RouteSink {
  register(msg: RouterRegisterMessage, at: number): void;
  unregister(msg: RouterRegisterMessage, at: number): void;
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
    const rejected = () => this.rejected++;
    this.subs.push(
      subscribe(
        this.nc,
        routerRegister,
        (msg) => {
          this.registrations++;
          sink.register(msg, Date.now());
        },
        { log, rejected },
      ),
      subscribe(
        this.nc,
        routerUnregister,
        (msg) => {
          this.unregistrations++;
          sink.unregister(msg, Date.now());
        },
        { log, rejected },
      ),
      subscribe(this.nc, routerGreet, (_body, msg) => respond(this.nc, msg, routerGreet, this.options.start), { log }),
    );
    this.announce();
    void this.watch();
  }

  /** Publishes router.start: registrants answer by registering everything they have. */
  announce(): void {
    if (this.closed || this.nc.isClosed()) return;
    publish(this.nc, routerStart, this.options.start);
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
