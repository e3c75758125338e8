// What the p-redis broker does on its redis-nodes (docs/redis.md); the Open Service Broker API around
// it is service-base/broker.ts. An instance is a redis-server of its own on a node; a binding is
// that server's address and password, as p-redis's shared-vm plan handed them out.
import type { NatsConnection } from '../common/bus.js';
import type { ServiceDriver } from '../service-base/broker.js';
import { isGuid, nodeRequest } from '../service-base/nodes.js';
import type { ServiceProtocol } from '../service-base/protocol.js';
import type { BindingRecord } from '../service-base/records.js';
import { planById, SERVICE_ID, SERVICE_NAME } from './catalog.js';

/** The credentials an app sees in VCAP_SERVICES, as p-redis writes them, and nothing else. */
export const CREDENTIAL_FIELDS = ['host', 'port', 'password', 'uri'] as const;
export const appCredentials = (credentials: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(CREDENTIAL_FIELDS.filter((field) => credentials[field] !== undefined).map((field) => [field, credentials[field]]));

export function redisDriver(bus: NatsConnection, protocol: ServiceProtocol, requestTimeoutMs: number): ServiceDriver<BindingRecord> {
  return {
    serviceId: SERVICE_ID,
    offering: SERVICE_NAME,
    planById,
    // The node names the instance's directory after the id.
    instanceIdProblem: (id) => (isGuid(id) ? undefined : `'${id}' is not a usable instance id: p-redis names the instance's server after it, so it must be a GUID (8-4-4-4-12 hex digits)`),
    instanceName: (id) => id,
    async provision(node, plan, name) {
      await nodeRequest(bus, protocol, 'provision', node.id, { plan: plan.name, ...(node.version ? { version: node.version } : {}), name }, requestTimeoutMs);
      return name;
    },
    async deprovision(instance) {
      await nodeRequest(bus, protocol, 'unprovision', instance.node_id, { name: instance.name }, requestTimeoutMs);
    },
    async bind(instance, bindingId) {
      const reply = await nodeRequest(bus, protocol, 'bind', instance.node_id, { name: instance.name, binding_id: bindingId, bind_opts: {} }, requestTimeoutMs);
      return { credentials: appCredentials(reply.credentials ?? {}), extra: {} };
    },
    // The binding's credentials are the instance's own (p-redis's shared-vm): nothing on the node to
    // undo. They stop working when the instance is deleted.
    async unbind() {},
    appCredentials,
  };
}
