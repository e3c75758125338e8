// The `mysql-gateway` component (DESIGN.md §10, docs/services-protocol.md): an Open Service Broker
// API v2 broker for MySQL databases, served on a loopback port and at mysql-broker.<domain> through
// the router. It picks mysql-nodes by capacity from their `MyaaS.announce`, talks to them over the
// bus, keeps its own record in $DEVBOX_HOME/mysql-gateway/records.json and looks for orphans. The
// gateway itself is service-base/gateway.ts; what is MySQL's is in broker.ts and catalog.ts.
import path from 'node:path';
import type { ComponentContext, ComponentModule } from '../common/component.js';
import { createServiceGateway, type GatewayComponent } from '../service-base/gateway.js';
import { MYSQL_PROTOCOL } from '../service-base/protocol.js';
import { mysqlDriver } from './broker.js';
import { catalog, SERVICE_NAME } from './catalog.js';
import type { MysqlBindingRecord } from './records.js';

export type { GatewayComponent };

export const BROKER_HOST = 'mysql-broker';

export const recordsFile = (home: string) => path.join(home, 'mysql-gateway', 'records.json');

export function createGateway(ctx: ComponentContext): GatewayComponent {
  return createServiceGateway<MysqlBindingRecord>(ctx, {
    protocol: MYSQL_PROTOCOL,
    envPrefix: 'DEVBOX_MYSQL',
    brokerHost: BROKER_HOST,
    brokerName: SERVICE_NAME,
    type: 'MysqlGateway',
    catalog,
    credentials: ctx.config.mysql.broker,
    recordsFile: recordsFile(ctx.home),
    driver: ({ bus, requestTimeoutMs }) => mysqlDriver(bus, MYSQL_PROTOCOL, requestTimeoutMs),
    bindingHandle: (b) => b.username,
  });
}

const mysqlGateway: ComponentModule = {
  type: 'MysqlGateway',
  create: (ctx: ComponentContext) => createGateway(ctx),
};

export default mysqlGateway;
