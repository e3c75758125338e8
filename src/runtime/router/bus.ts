// The router on the bus (DESIGN.md §4): it takes router.register / router.unregister into its
// route table, announces itself with router.start when it starts and after every reconnect (so
// registrants register again at once), and answers router.greet with the same payload. App
// instances may not register the platform's host names (reservedUris).
import { Events } from 'nats';
import { publish, respond, subscribe, type NatsConnection, type Subscription } from '../common/bus.js';
import { routerGreet, routerRegister, routerStart, routerUnregister, type RouterRegisterMessage, type RouterStartMessage } from '../common/bus-messages.js';
import { isReservedRouteHost } from '../common/config.js';
import type { Logger } from '../common/log.js';

/**
 * The warm-up of a router that has just started (docs/router.md, "Restarts"): until `until` (epoch ms)
 * a request for a host the table does not have yet waits for its registration; until `settled`
 * (the registrations answering router.start have all come) every request waits.
 */
export interface WarmUpState {
  until: number;
  settled: boolean;
}

/** What the bus side drives: the route table (in this process, or relayed to worker processes). */
export interface RouteSink {
  register(msg: RouterRegisterMessage, at: number): void;
  unregister(msg: RouterRegisterMessage, at: number): void;
  /** The bus went away (no refresh can arrive: pruning pauses) or came back. */
  busDown(at: number): void;
  busUp(at: number): void;
  warmUp(state: WarmUpState): void;
}

export interface RouterBusOptions {
  start: RouterStartMessage;
  sink: RouteSink;
  log: Logger;
  /** The box's domain: its platform host names are reserved (isReservedRouteHost) for platform components. */
  domain?: string;
  /**
   * The warm-up after the first router.start (gorouter's start_response_delay_interval): how long a
   * request for an unknown host may wait for its registration (`windowMs`, a register interval at
   * most), and after how long without a registration the answers to router.start count as all in
   * (`settleMs`). None: no warm-up.
   */
  warmUp?: { windowMs: number; settleMs: number };
}

/**
 * The uris of an app instance's registration that name a platform host (api.<domain>, the cf
 * address…). A registration carrying `app` is an app instance's (the DEAs register those); the
 * platform components (controller, uaa, logs, mysql-gateway) register without one, with
 * `tags.component`. Only app instances are refused: a platform host must not be taken by an app.
 */
export function reservedUris(msg: RouterRegisterMessage, domain: string): string[] {
  if (!msg.app) return [];
  return msg.uris.filter((uri) => {
    const slash = uri.indexOf('/');
    const host = slash < 0 ? uri : uri.slice(0, slash);
    const colon = host.lastIndexOf(':');
    return isReservedRouteHost(colon < 0 ? host : host.slice(0, colon), domain);
  });
}

export class RouterBus {
  private readonly subs: Subscription[] = [];
  private closed = false;
  /** router.start messages sent (for /varz). */
  announcements = 0;
  registrations = 0;
  unregistrations = 0;
  rejected = 0;
  /** The warm-up in progress: when it ends, when the last registration came, its timer. */
  private warming?: { until: number; lastAt: number; timer: NodeJS.Timeout };

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
          const domain = this.options.domain;
          const reserved = domain ? reservedUris(msg, domain) : [];
          if (reserved.length > 0) {
            this.rejected++;
            this.refused(msg, reserved);
            const uris = msg.uris.filter((uri) => !reserved.includes(uri));
            if (uris.length === 0) return;
            msg = { ...msg, uris };
          }
          const now = Date.now();
          if (this.warming) this.warming.lastAt = now;
          sink.register(msg, now);
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

  private readonly warned = new Set<string>();

  /** Says once per app and host that an app registration for a platform host was refused (refreshes repeat it every 20 s). */
  private refused(msg: RouterRegisterMessage, uris: string[]): void {
    for (const uri of uris) {
      const key = `${msg.app}\0${uri}`;
      if (this.warned.has(key) || this.warned.size > 1000) continue;
      this.warned.add(key);
      this.options.log.warn('refused an app registration for a host reserved for the platform', { uri, app: msg.app, endpoint: `${msg.host}:${msg.port}` });
    }
  }

  /** Publishes router.start: registrants answer by registering everything they have. */
  announce(): void {
    if (this.closed || this.nc.isClosed()) return;
    const first = this.announcements === 0;
    publish(this.nc, routerStart, this.options.start);
    this.announcements++;
    if (first) this.startWarmUp();
  }

  /**
   * After the first router.start the table fills with the registrants' answers: the sink is told when
   * the warm-up ends and, once no registration has come for settleMs, that the answers are all in.
   * (After a reconnect the table is still there: no warm-up.)
   */
  private startWarmUp(): void {
    const warmUp = this.options.warmUp;
    if (!warmUp) return;
    const now = Date.now();
    const until = now + warmUp.windowMs;
    const check = () => {
      const w = this.warming;
      if (!w) return;
      const at = Date.now();
      if (at >= w.until || at - w.lastAt >= warmUp.settleMs || this.closed) {
        clearInterval(w.timer);
        this.warming = undefined;
        this.options.sink.warmUp({ until: w.until, settled: true });
      }
    };
    this.warming = { until, lastAt: now, timer: setInterval(check, Math.max(5, Math.min(50, Math.floor(warmUp.settleMs / 4)))) };
    this.options.sink.warmUp({ until, settled: false });
    check();
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
    if (this.warming) clearInterval(this.warming.timer);
    this.warming = undefined;
    for (const sub of this.subs) sub.unsubscribe();
  }
}
