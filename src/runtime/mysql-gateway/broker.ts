// What the p-mysql broker does on its mysql-nodes (docs/services-protocol.md); the Open Service Broker
// API around it is service-base/broker.ts. An instance is a database named as cf-mysql named it, a
// binding a user with rights on that database only; credentials are cf-mysql's.
import type { NatsConnection } from '../common/bus.js';
import type { ServiceDriver } from '../service-base/broker.js';
import { isGuid, nodeRequest } from '../service-base/nodes.js';
import type { ServiceProtocol } from '../service-base/protocol.js';
import { planById, SERVICE_ID, SERVICE_NAME } from './catalog.js';
import { bindingUsername, databaseName, DEFAULT_VERSION } from './nodes.js';
import type { MysqlBindingRecord } from './records.js';

/**
 * The credentials an app sees in VCAP_SERVICES, as cf-mysql writes them. Anything else a node sends,
 * or a binding recorded before held (`host`, the node's id), stays in the broker.
 */
export const CREDENTIAL_FIELDS = ['hostname', 'port', 'name', 'username', 'password', 'uri', 'jdbcUrl'] as const;
export const appCredentials = (credentials: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(CREDENTIAL_FIELDS.filter((field) => credentials[field] !== undefined).map((field) => [field, credentials[field]]));

export function mysqlDriver(bus: NatsConnection, protocol: ServiceProtocol, requestTimeoutMs: number): ServiceDriver<MysqlBindingRecord> {
  const ask = <Op extends Parameters<ServiceProtocol['request']>[0]>(op: Op, nodeId: string, body: Parameters<typeof nodeRequest<Op>>[4]) =>
    nodeRequest(bus, protocol, op, nodeId, body, requestTimeoutMs);
  return {
    serviceId: SERVICE_ID,
    offering: SERVICE_NAME,
    planById,
    // The database is named after the id (cf-mysql's `cf_<guid>`).
    instanceIdProblem: (id) => (isGuid(id) ? undefined : `'${id}' is not a usable instance id: p-mysql names the database after it, so it must be a GUID (8-4-4-4-12 hex digits)`),
    instanceName: databaseName,
    bindingHandle: bindingUsername,
    async provision(node, plan, name) {
      const reply = await ask('provision', node.id, { plan: plan.name, version: node.version ?? DEFAULT_VERSION, name });
      return typeof reply.credentials?.name === 'string' ? reply.credentials.name : name;
    },
    /** The node moves the database to the plan's size quota and connection limit, when its data fits. */
    async changePlan(instance, plan) {
      await ask('update', instance.node_id, { name: instance.name, plan: plan.name });
    },
    async deprovision(instance, bindings) {
      await ask('unprovision', instance.node_id, { name: instance.name, bindings: bindings.map((b) => ({ username: b.username })) });
    },
    async bind(instance, bindingId) {
      const reply = await ask('bind', instance.node_id, { name: instance.name, binding_id: bindingId, bind_opts: {} });
      const credentials = appCredentials(reply.credentials ?? {});
      const username = typeof credentials.username === 'string' ? credentials.username : bindingUsername(bindingId);
      return { credentials, extra: { name: instance.name, username } };
    },
    async unbind(binding, instance) {
      // The name as remembered: bindings recorded before it was kept name it in their credentials.
      const database = binding.name ?? instance?.name ?? binding.credentials.name;
      await ask('unbind', binding.node_id, { credentials: { name: typeof database === 'string' ? database : undefined, username: binding.username } });
    },
    appCredentials,
  };
}
