// The mysql-nodes the gateway knows from `MyaaS.announce`, the choice of a node for a plan, and
// request/reply to a node over the bus with a bounded wait (docs/services-protocol.md).
import { createHash } from 'node:crypto';
import { MalformedReply, request, type NatsConnection } from '../common/bus.js';
import { myaasRequest, type MyaasAnnouncement, type MyaasOperation, type MyaasRequestBody, type NodeReply } from '../common/bus-messages.js';

interface KnownNode extends MyaasAnnouncement {
  lastSeen: number;
}

export const DEFAULT_VERSION = '10.11';

/** Nodes by (id, plan). A node serves several plans with one shared capacity. */
export class NodePool {
  private readonly nodes = new Map<string, KnownNode>();

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  announce(a: MyaasAnnouncement): void {
    const { id, plan, supported_versions, available_capacity, capacity_unit, host, port } = a;
    this.nodes.set(`${id}\u0000${plan}`, { id, plan, supported_versions, available_capacity, capacity_unit, host, port, lastSeen: this.now() });
  }

  /** Drops nodes silent for longer than the timeout; returns the ids dropped. */
  prune(): string[] {
    const dropped = new Set<string>();
    for (const [key, n] of this.nodes) {
      if (this.now() - n.lastSeen > this.timeoutMs) {
        this.nodes.delete(key);
        dropped.add(n.id);
      }
    }
    return [...dropped].filter((id) => !this.has(id));
  }

  has(id: string): boolean {
    return [...this.nodes.values()].some((n) => n.id === id);
  }

  /**
   * The node with the most available capacity (> 0) for the plan. Its capacity is taken at once
   * (on every plan it serves: the capacity is shared) so concurrent provisions do not overfill it.
   */
  reserve(plan: string): { id: string; version: string } | undefined {
    this.prune();
    let best: KnownNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.plan !== plan || n.available_capacity <= 0) continue;
      if (!best || n.available_capacity > best.available_capacity) best = n;
    }
    if (!best) return undefined;
    this.adjust(best.id, -(best.capacity_unit ?? 1));
    return { id: best.id, version: best.supported_versions?.[0] ?? DEFAULT_VERSION };
  }

  /** Gives back capacity taken by `reserve` when the node said no. */
  release(id: string): void {
    this.adjust(id, +1);
  }

  private adjust(id: string, delta: number): void {
    for (const n of this.nodes.values()) if (n.id === id) n.available_capacity += delta;
  }

  list(): Array<{ id: string; plans: string[]; available_capacity: number; host?: string; port?: number; last_seen: string }> {
    this.prune();
    const byId = new Map<string, { id: string; plans: string[]; available_capacity: number; host?: string; port?: number; last_seen: string }>();
    for (const n of this.nodes.values()) {
      const entry = byId.get(n.id) ?? { id: n.id, plans: [], available_capacity: n.available_capacity, host: n.host, port: n.port, last_seen: new Date(n.lastSeen).toISOString() };
      entry.plans.push(n.plan);
      entry.available_capacity = Math.min(entry.available_capacity, n.available_capacity);
      byId.set(n.id, entry);
    }
    return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
}

/** A node's answer failed, or never came: the broker turns it into an error with this description. */
export class NodeError extends Error {
  constructor(
    message: string,
    readonly timedOut = false,
    /** The node's own error, when it answered one (`code` is HTTP-like: 422 a change that cannot be made). */
    readonly reply?: { code: number; description: string },
  ) {
    super(message);
  }
}

/** `MyaaS.<op>.<node id>`, request/reply, bounded by `timeoutMs`; a reply that is no success is thrown as a NodeError. */
export async function nodeRequest<Op extends MyaasOperation>(nc: NatsConnection, op: Op, nodeId: string, body: MyaasRequestBody<Op>, timeoutMs: number): Promise<NodeReply> {
  let reply: NodeReply;
  try {
    reply = await request(nc, myaasRequest(op, nodeId), body, { timeout: timeoutMs });
  } catch (error) {
    if (error instanceof MalformedReply) throw new NodeError(`mysql-node '${nodeId}' sent an unreadable answer to ${op}: ${error.reason}`);
    const code = (error as { code?: string }).code;
    if (code === '503') throw new NodeError(`mysql-node '${nodeId}' is not running (no answer to ${op})`);
    throw new NodeError(`mysql-node '${nodeId}' did not answer ${op} within ${timeoutMs / 1000} s`, true);
  }
  if (!reply.success) throw new NodeError(`mysql-node '${nodeId}' failed to ${op}: ${reply.error?.description ?? 'no reason given'}`, false, reply.error);
  return reply;
}

/** Instance ids name databases, so they must be GUIDs (as Cloud Foundry's are). */
export const isGuid = (id: string) => /^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(id);
/**
 * The database name for a new instance, as cf-mysql made it: `cf_` and the GUID with its dashes as
 * underscores. Made once, at provision, then remembered in the record: databases made before this
 * naming keep theirs (`cf_` and 32 hex digits).
 */
export const databaseName = (instanceId: string) => `cf_${instanceId.replace(/-/g, '_')}`;
/** The MySQL user the node creates for a binding: `u` + 15 hex chars of the binding id's sha1. */
export const bindingUsername = (bindingId: string) => `u${createHash('sha1').update(bindingId).digest('hex').slice(0, 15)}`;
