// Orphans, as Cloud Foundry's service gateways found them: ask every node for its handles
// (`<Service>.check_orphan`, replies gathered for a short window), and compare them with the record.
// Handles no instance or binding owns are counted (/varz), logged, and purged on request. The
// contract calls them `databases` (instances: MySQL's databases, Redis's servers) and `users`
// (bindings that leave something on the node: MySQL's users).
import { requestMany, type NatsConnection } from '../common/bus.js';
import type { OrphanCheckReply } from '../common/bus-messages.js';
import type { Logger } from '../common/log.js';
import { nodeRequest } from './nodes.js';
import type { ServiceProtocol } from './protocol.js';
import type { BindingRecord, RecordStore } from './records.js';

export interface NodeOrphans {
  databases: string[];
  users: string[];
}

export interface OrphanReport {
  checked_at: string;
  nodes: Record<string, NodeOrphans>;
  databases: number;
  users: number;
}

export interface OrphanCheckerOptions<B extends BindingRecord> {
  gatherMs: number;
  requestTimeoutMs: number;
  /** What operations in progress are making: not orphans. */
  pending: () => { databases: Set<string>; users: Set<string> };
  /** What a binding leaves on its node (MySQL: its user); none when bindings leave nothing. */
  bindingHandle?: (binding: B) => string | undefined;
}

export class OrphanChecker<B extends BindingRecord = BindingRecord> {
  last?: OrphanReport;

  constructor(
    private readonly bus: NatsConnection,
    private readonly protocol: ServiceProtocol,
    private readonly records: RecordStore<B>,
    private readonly log: Logger,
    private readonly opts: OrphanCheckerOptions<B>,
  ) {}

  /** Asks every node, waits `gatherMs` for replies, compares them with the record. */
  async check(): Promise<OrphanReport> {
    const replies: OrphanCheckReply[] = [];
    for await (const reply of requestMany(this.bus, this.protocol.checkOrphan, {}, { log: this.log, maxWait: this.opts.gatherMs })) {
      // A node that failed to list its handles answered with a failed NodeReply: not in this report.
      if ('node_id' in reply) replies.push(reply);
    }

    const ownedDatabases = new Map<string, Set<string>>();
    const ownedUsers = new Map<string, Set<string>>();
    const add = (map: Map<string, Set<string>>, node: string, value: string) => map.set(node, (map.get(node) ?? new Set()).add(value));
    for (const i of this.records.instances.values()) add(ownedDatabases, i.node_id, i.name);
    for (const b of this.records.bindings.values()) {
      const handle = this.opts.bindingHandle?.(b);
      if (handle) add(ownedUsers, b.node_id, handle);
    }
    const pending = this.opts.pending();

    const report: OrphanReport = { checked_at: new Date().toISOString(), nodes: {}, databases: 0, users: 0 };
    for (const reply of replies) {
      const node = reply.node_id;
      const databases = reply.databases.filter((d) => !ownedDatabases.get(node)?.has(d) && !pending.databases.has(d));
      const users = reply.users.filter((u) => !ownedUsers.get(node)?.has(u) && !pending.users.has(u));
      report.nodes[node] = { databases, users };
      report.databases += databases.length;
      report.users += users.length;
    }
    this.last = report;
    if (report.databases + report.users > 0) this.log.warn('orphans found', { databases: report.databases, users: report.users, nodes: report.nodes });
    return report;
  }

  /** Checks again (the record may have changed), then asks each node to drop its orphans. */
  async purge(): Promise<{ purged: Record<string, NodeOrphans>; errors: Record<string, string> }> {
    const report = await this.check();
    const purged: Record<string, NodeOrphans> = {};
    const errors: Record<string, string> = {};
    for (const [node, orphans] of Object.entries(report.nodes)) {
      if (orphans.databases.length + orphans.users.length === 0) continue;
      try {
        await nodeRequest(this.bus, this.protocol, 'purge_orphan', node, orphans, this.opts.requestTimeoutMs);
        purged[node] = orphans;
        this.log.info('orphans purged', { node_id: node, databases: orphans.databases, users: orphans.users });
      } catch (error) {
        errors[node] = (error as Error).message;
      }
    }
    if (Object.keys(purged).length > 0) await this.check();
    return { purged, errors };
  }
}
