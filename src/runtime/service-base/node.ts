// A node's side of its service's bus protocol (docs/services-protocol.md), as vcap-services-base's
// node: it answers `<Service>.<op>.<node id>` and `<Service>.check_orphan` (a failure is an answer
// too, `{"success":false,"error":{code, description}}`, never silence, which would leave the gateway
// waiting out its timeout), serialises the work on one instance, and announces its plans at start,
// on `<Service>.discover` and every `announceMs`. What the work is belongs to the service's node.
import { publish, respond, subscribe, type Msg, type NatsConnection, type Subscription } from '../common/bus.js';
import type { MyaasOperation, MyaasRequestBody, NodeReply, OrphanCheckReply, RequestContract } from '../common/bus-messages.js';
import type { Logger } from '../common/log.js';
import type { ServiceProtocol } from './protocol.js';

/** A request the node refuses or failed: `code` is HTTP-like (400 bad request, 404 absent, 507 full…). */
export class RequestError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface NodeBusOptions {
  id: string;
  nc: NatsConnection;
  log: Logger;
  protocol: ServiceProtocol;
  /** How often it announces (ms; at least 50). */
  announceMs: number;
  /** Publishes its announcements (announceTo does the publishing), or says nothing when it cannot serve now. */
  announce: () => Promise<void>;
}

export class NodeBus {
  readonly stats = { requests: 0, failures: 0 };
  private subscriptions: Subscription[] = [];
  private announceTimer: NodeJS.Timeout | undefined;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly o: NodeBusOptions) {}

  /** Answers `<Service>.<op>.<node id>` with what `work` resolves to, or its failure. */
  handle<Op extends MyaasOperation>(op: Op, work: (request: MyaasRequestBody<Op>) => Promise<NodeReply>): void {
    this.serve(this.o.protocol.request(op, this.o.id), work);
  }

  /** Answers `<Service>.check_orphan` (every node answers: no node id in the subject). */
  handleCheckOrphan(work: () => Promise<OrphanCheckReply>): void {
    this.serve(this.o.protocol.checkOrphan, () => work());
  }

  private serve<T, R>(contract: RequestContract<T, R | NodeReply>, work: (request: T) => Promise<R | NodeReply>): void {
    const { nc, log } = this.o;
    this.subscriptions.push(
      subscribe(nc, contract, (request, msg) => this.reply(contract, msg, () => work(request)), {
        log,
        // Answered at once: the gateway would otherwise wait out its timeout.
        rejected: (reason, msg) => void this.reply(contract, msg, () => Promise.reject(new RequestError(400, `malformed request: ${reason}`))),
      }),
    );
  }

  private async reply<R>(contract: RequestContract<unknown, R | NodeReply>, msg: Msg, work: () => Promise<R | NodeReply>): Promise<void> {
    this.stats.requests++;
    let answer: R | NodeReply;
    try {
      answer = await work();
    } catch (error) {
      this.stats.failures++;
      const code = error instanceof RequestError ? error.code : 500;
      const description = (error as Error).message;
      this.o.log.warn('request failed', { subject: contract.subject, code, error: description });
      answer = { success: false, error: { code, description } };
    }
    respond(this.o.nc, msg, contract, answer);
  }

  /** Announces now, on every discover, and every `announceMs`. */
  async start(): Promise<void> {
    this.subscriptions.push(subscribe(this.o.nc, this.o.protocol.discover, () => this.o.announce(), { log: this.o.log }));
    await this.o.announce();
    this.announceTimer = setInterval(() => void this.o.announce(), Math.max(50, this.o.announceMs));
  }

  /** One `<Service>.announce` per plan served, all with the node's one available capacity. */
  announceTo(plans: string[], fields: { supported_versions: string[]; available_capacity: number; host?: string; port?: number }): void {
    for (const plan of plans) publish(this.o.nc, this.o.protocol.announce, { id: this.o.id, plan, capacity_unit: 1, ...fields });
  }

  stop(): void {
    clearInterval(this.announceTimer);
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions = [];
  }

  /** Serialises work on one key (an instance, a user): a retry racing the original waits for it. */
  async locked<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.locks.set(key, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(key) === next) this.locks.delete(key);
    }
  }
}
