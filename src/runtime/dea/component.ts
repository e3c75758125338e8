// The `dea` component (DESIGN.md §6, docs/dea.md): one Droplet Execution Agent with the id
// dea-<index> and its directory $DEVBOX_HOME/dea/dea-<index>. It reaches the controller through
// the router with a token of uaa's components client.
import path from 'node:path';
import type { NatsConnection } from '../common/bus.js';
import type { ComponentContext, ComponentModule } from '../common/component.js';
import { uaaBaseUrl } from '../common/tokens.js';
import { Dea } from './dea.js';
import { deaId } from './paths.js';
import { deaSettings } from './settings.js';
import { uaaTokenSource } from './uaa-client.js';

const dea: ComponentModule = {
  type: 'DEA',
  create(ctx: ComponentContext) {
    const id = deaId(ctx.index);
    const dir = path.join(ctx.paths.dea, id);
    const settings = deaSettings(dir);
    const routerPort = ctx.ports?.router_port ?? ctx.config.router_port;
    const auth = uaaTokenSource({
      uaaUrl: uaaBaseUrl(ctx.config.domain, routerPort),
      clientId: ctx.config.uaa.components_client.id,
      clientSecret: ctx.config.uaa.components_client.secret,
    });
    let instance: Dea | undefined;

    return {
      async start(bus: NatsConnection) {
        instance = new Dea({ id, dir, nc: bus, log: ctx.log, auth, settings });
        await instance.start();
      },
      healthy: () => !!instance?.healthy,
      varz: () => instance?.varz() ?? { id },
      async stop() {
        await instance?.stop();
      },
    };
  },
};

export default dea;
