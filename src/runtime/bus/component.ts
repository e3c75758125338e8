// The `bus` component: devbox's embedded NATS server, on the port the supervisor chose, requiring the
// token from config.json. Like every component it also connects to the bus as a client, so that
// `devbox status` discovers it.
import type { ComponentContext, ComponentModule } from '../common/component.js';
import { BusServer } from './server.js';

const bus: ComponentModule = {
  type: 'NATS',
  create(ctx: ComponentContext) {
    const port = ctx.port ?? ctx.ports?.bus_port;
    if (port === undefined) throw new Error('the bus needs a port: pass --port, or start it with `devbox up`');
    const server = new BusServer({
      host: '127.0.0.1',
      port,
      token: ctx.config.bus.token,
      serverName: `devbox-bus-${ctx.index}`,
      log: (level, msg, fields) => ctx.log[level](msg, fields),
    });
    let listening = false;
    return {
      async listen() {
        await server.listen();
        listening = true;
        ctx.log.info('bus listening', { host: '127.0.0.1', port: server.port });
      },
      async start() {},
      healthy: () => listening,
      varz: () => ({ port: server.port, ...server.stats() }),
      async stop() {
        await server.close();
      },
    };
  },
};

export default bus;
