// Keeping routes registered with the router(s), as Cloud Foundry's route registrar did: register at
// once, again every `minimumRegisterIntervalInSeconds` that the router announced, and at once when a
// router (re)starts; unregister on stop. Used by the platform endpoints (api, uaa, logs) and the DEA.
import { Events } from 'nats';
import { publish, request, subscribe, type NatsConnection, type Subscription } from './bus.js';
import { routerGreet, routerRegister, routerStart, routerUnregister, type RouterRegisterMessage, type RouterStartMessage } from './bus-messages.js';
import type { Logger } from './log.js';

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
    this.sub = subscribe(this.nc, routerStart, (start) => this.onRouterStart(start), { log: this.log });
    void this.watchReconnects();
    this.registerAll();
    this.schedule();
    // A router already running announced itself before we subscribed: ask it for its interval.
    try {
      this.onRouterStart(await request(this.nc, routerGreet, undefined, { timeout: 500 }));
    } catch {
      // no router yet (or a malformed answer): its router.start will reach us
    }
  }

  /** Adds (or replaces) a route, keyed by host:port, and registers it at once. */
  add(route: RouterRegisterMessage): void {
    this.routes.set(`${route.host}:${route.port}`, route);
    if (!this.stopped) publish(this.nc, routerRegister, route);
  }

  /** Removes a route and unregisters it at once. */
  remove(host: string, port: number): void {
    const key = `${host}:${port}`;
    const route = this.routes.get(key);
    if (!route) return;
    this.routes.delete(key);
    publish(this.nc, routerUnregister, route);
  }

  /** Unregisters everything (the component is stopping). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.sub?.unsubscribe();
    if (this.nc.isClosed()) return;
    for (const route of this.routes.values()) publish(this.nc, routerUnregister, route);
    await this.nc.flush().catch(() => undefined);
  }

  private onRouterStart(start: RouterStartMessage): void {
    const interval = start.minimumRegisterIntervalInSeconds;
    if (interval !== this.intervalS) {
      this.intervalS = interval;
      this.schedule();
    }
    this.registerAll();
  }

  private registerAll(): void {
    if (this.stopped || this.nc.isClosed()) return;
    for (const route of this.routes.values()) publish(this.nc, routerRegister, route);
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
