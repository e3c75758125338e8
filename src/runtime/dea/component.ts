// The `dea` component (DESIGN.md §6, docs/dea.md): one Droplet Execution Agent with the id
// dea-<index> and its directory $DEVBOX_HOME/dea/dea-<index>. It reaches the controller through
// the router with a token of uaa's components client.
import type { NatsConnection } from '../common/bus.js';
import { resolveAddresses, type ComponentContext, type ComponentModule } from '../common/component.js';
import { uaaBaseUrl } from '../common/config.js';
import { Dea } from './dea.js';
import { deaIdentity, deaSettings } from './settings.js';
import { uaaTokenSource } from './uaa-client.js';

const dea: ComponentModule = {
  type: 'DEA',
  create(ctx: ComponentContext) {
    // Droplets, buildpack caches and whatever buildpacks and app instances write are owner-only: they
    // are users' code and data (docs/security.md). Children (buildpacks, instances) inherit it.
    process.umask(0o077);
    const { id, dir } = deaIdentity(ctx.index, ctx.paths.dea);
    const addresses = resolveAddresses(ctx);
    const settings = { ...deaSettings(dir), host: addresses.advertise, listenHost: addresses.host };
    const routerPort = ctx.ports?.router_port ?? ctx.config.router_port;
    const auth = uaaTokenSource({
      uaaUrl: uaaBaseUrl(ctx.config.domain, routerPort),
      clientId: ctx.config.uaa.components_client.id,
      clientSecret: ctx.config.uaa.components_client.secret,
    });
    let instance: Dea | undefined;

    return {
      async start(bus: NatsConnection) {
        instance = new Dea({ id, dir, nc: bus, log: ctx.log, auth, settings, privateDirs: [ctx.paths.home] });
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
