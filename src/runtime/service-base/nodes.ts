// A gateway's side of its nodes (docs/services-protocol.md): the nodes it knows from their
// announcements, the choice of one for a plan, and request/reply to a node over the bus with a
// bounded wait.
import { MalformedReply, request, type NatsConnection } from '../common/bus.js';
import type { MyaasAnnouncement, MyaasOperation, MyaasRequestBody, NodeReply } from '../common/bus-messages.js';
import type { ServiceProtocol } from './protocol.js';

interface KnownNode extends MyaasAnnouncement {
  lastSeen: number;
}

/** The node a provision goes to, and the version it serves first (undefined: it named none). */
export interface ReservedNode {
  id: string;
  version?: string;
}

export interface NodeListing {
  id: string;
  plans: string[];
  available_capacity: number;
  host?: string;
  port?: number;
  last_seen: string;
}

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
  reserve(plan: string): ReservedNode | undefined {
    this.prune();
    let best: KnownNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.plan !== plan || n.available_capacity <= 0) continue;
      if (!best || n.available_capacity > best.available_capacity) best = n;
    }
    if (!best) return undefined;
    this.adjust(best.id, -(best.capacity_unit ?? 1));
    return { id: best.id, version: best.supported_versions?.[0] };
  }

  /** Gives back capacity taken by `reserve` when the node said no. */
  release(id: string): void {
    this.adjust(id, +1);
  }

  private adjust(id: string, delta: number): void {
    for (const n of this.nodes.values()) if (n.id === id) n.available_capacity += delta;
  }

  list(): NodeListing[] {
    this.prune();
    const byId = new Map<string, NodeListing>();
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

/** `<Service>.<op>.<node id>`, request/reply, bounded by `timeoutMs`; a reply that is no success is thrown as a NodeError. */
export async function nodeRequest<Op extends MyaasOperation>(
  nc: NatsConnection,
  protocol: ServiceProtocol,
  op: Op,
  nodeId: string,
  body: MyaasRequestBody<Op>,
  timeoutMs: number,
): Promise<NodeReply> {
  const node = `${protocol.nodeLabel} '${nodeId}'`;
  let reply: NodeReply;
  try {
    reply = await request(nc, protocol.request(op, nodeId), body, { timeout: timeoutMs });
  } catch (error) {
    if (error instanceof MalformedReply) throw new NodeError(`${node} sent an unreadable answer to ${op}: ${error.reason}`);
    const code = (error as { code?: string }).code;
    if (code === '503') throw new NodeError(`${node} is not running (no answer to ${op})`);
    throw new NodeError(`${node} did not answer ${op} within ${timeoutMs / 1000} s`, true);
  }
  if (!reply.success) throw new NodeError(`${node} failed to ${op}: ${reply.error?.description ?? 'no reason given'}`, false, reply.error);
  return reply;
}

/** Cloud Foundry's instance ids are GUIDs; the built-in services name what they make after them. */
export const isGuid = (id: string) => /^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(id);
