// vcap-services-base's bus protocol for one service (docs/services-protocol.md): its nodes announce
// on `<Service>.announce` and answer `<Service>.discover`, `<Service>.<op>.<node id>` and
// `<Service>.check_orphan`. The messages are those common/bus-messages.ts declares for MySQL's
// `MyaaS`, whatever the service: Redis's `RaaS` carries the same ones under its own name.
import { isSubjectToken } from '../common/bus.js';
import {
  myaasAnnounce,
  myaasCheckOrphan,
  myaasDiscover,
  myaasRequest,
  type Contract,
  type MyaasAnnouncement,
  type MyaasOperation,
  type MyaasRequestBody,
  type NodeReply,
  type OrphanCheckReply,
  type RequestContract,
} from '../common/bus-messages.js';

export interface ServiceProtocol {
  /** vcap-services-base's service name, the subjects' first token (`MyaaS`, `RaaS`). */
  readonly service: string;
  /** What its nodes are called in errors and logs (`mysql-node`, `redis-node`). */
  readonly nodeLabel: string;
  readonly announce: Contract<MyaasAnnouncement>;
  readonly discover: Contract<unknown>;
  readonly checkOrphan: RequestContract<unknown, OrphanCheckReply | NodeReply>;
  request<Op extends MyaasOperation>(op: Op, nodeId: string): RequestContract<MyaasRequestBody<Op>, NodeReply>;
}

const MYAAS = 'MyaaS';

/** The same contract on `<service>.…` instead of `MyaaS.…`. */
function renamed<C extends Contract<unknown>>(contract: C, service: string): C {
  return service === MYAAS ? contract : { ...contract, subject: `${service}${contract.subject.slice(MYAAS.length)}` };
}

export function serviceProtocol(service: string, nodeLabel: string): ServiceProtocol {
  if (!isSubjectToken(service)) throw new Error(`'${service}' cannot be a bus subject token`);
  return {
    service,
    nodeLabel,
    announce: renamed(myaasAnnounce, service),
    discover: renamed(myaasDiscover, service),
    checkOrphan: renamed(myaasCheckOrphan, service),
    request: (op, nodeId) => renamed(myaasRequest(op, nodeId), service),
  };
}

/** MySQL's, as vcap-services-base named it: `MyaaS.announce`, `MyaaS.provision.<node id>`… */
export const MYSQL_PROTOCOL = serviceProtocol('MyaaS', 'mysql-node');
/** Redis's, as vcap-services-base named it: `RaaS.announce`, `RaaS.provision.<node id>`… */
export const REDIS_PROTOCOL = serviceProtocol('RaaS', 'redis-node');
