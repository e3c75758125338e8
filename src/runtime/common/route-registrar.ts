// Keeping routes registered with the router(s), as Cloud Foundry's route registrar did: register at
// once, again every `minimumRegisterIntervalInSeconds` that the router announced, and at once when a
// router (re)starts; unregister on stop. Used by the platform endpoints (api, uaa, logs) and the DEA.
import { Events } from 'nats';
import { decodeJson, publishJson, subscribeJson, type NatsConnection, type Subscription } from './bus.js';
import type { Logger } from './log.js';

/** `router.register` / `router.unregister` (gorouter's JSON). */
export interface RouterRegisterMessage {
  host: string;
  port: number;
  uris: string[];
  app?: string;
  private_instance_id?: string;
  /** The instance index, as gorouter reads it (a string): its access-log lines show it as app_index. */
  private_instance_index?: string;
  tags?: Record<string, string>;
  stale_threshold_in_seconds?: number;
}

/** `router.start`, and the reply to `router.greet`. */
export interface RouterStartMessage {
  id: string;
  hosts: string[];
  minimumRegisterIntervalInSeconds: number;
  pruneThresholdInSeconds: number;
}

const DEFAULT_INTERVAL_S = 20;

export class RouteRegistrar {
  private readonly routes = new Map<string, RouterRegisterMessage>();
  private timer?: NodeJS.Timeout;
  private intervalS = DEFAULT_INTERVAL_S;
  private sub?: Subscription;
  private stopped = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {}

  /** Starts following routers; registers everything added so far. */
  async start(): Promise<void> {
    this.sub = subscribeJson<RouterStartMessage>(this.nc, 'router.start', (start) => this.onRouterStart(start), { log: this.log });
    void this.watchReconnects();
    this.registerAll();
    this.schedule();
    // A router already running announced itself before we subscribed: ask it for its interval.
    try {
      const reply = await this.nc.request('router.greet', undefined, { timeout: 500 });
      const start = decodeJson<RouterStartMessage>(reply.data);
      if (start) this.onRouterStart(start);
    } catch {
      // no router yet: its router.start will reach us
    }
  }

  /** Adds (or replaces) a route, keyed by host:port, and registers it at once. */
  add(route: RouterRegisterMessage): void {
    this.routes.set(`${route.host}:${route.port}`, route);
    if (!this.stopped) publishJson(this.nc, 'router.register', route);
  }

  /** Removes a route and unregisters it at once. */
  remove(host: string, port: number): void {
    const key = `${host}:${port}`;
    const route = this.routes.get(key);
    if (!route) return;
    this.routes.delete(key);
    publishJson(this.nc, 'router.unregister', route);
  }

  /** Unregisters everything (the component is stopping). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.sub?.unsubscribe();
    if (this.nc.isClosed()) return;
    for (const route of this.routes.values()) publishJson(this.nc, 'router.unregister', route);
    await this.nc.flush().catch(() => undefined);
  }

  private onRouterStart(start: RouterStartMessage): void {
    const interval = Number(start.minimumRegisterIntervalInSeconds);
    if (Number.isFinite(interval) && interval > 0 && interval !== this.intervalS) {
      this.intervalS = interval;
      this.schedule();
    }
    this.registerAll();
  }

  private registerAll(): void {
    if (this.stopped || this.nc.isClosed()) return;
    for (const route of this.routes.values()) publishJson(this.nc, 'router.register', route);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.registerAll();
      this.schedule();
    }, this.intervalS * 1000);
    this.timer.unref();
  }

  private async watchReconnects(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === Events.Reconnect) this.registerAll();
    }
  }
}
