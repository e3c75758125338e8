// The `uaa` component (DESIGN.md §5, docs/uaa.md): Cloud Foundry's OAuth2 server. It serves the
// token endpoint on a loopback port of its own and registers `uaa.<domain>` with the router(s), so
// the CLI and browsers reach it at http://uaa.localhost:<router port>, and cf at the cf address,
// http://127.0.0.1:<router port>/uaa (docs/uaa.md).
import type { NatsConnection } from '../common/bus.js';
import { resolveAddresses, type ComponentContext, type ComponentModule } from '../common/component.js';
import { ADDRESS_HOSTS, UAA_PATH_PREFIX } from '../common/config.js';
import { RouteRegistrar } from '../common/route-registrar.js';
import { UaaServer } from './server.js';
import { uaaSettings } from './settings.js';

const uaa: ComponentModule = {
  type: 'UAA',
  create(ctx: ComponentContext) {
    const settings = uaaSettings(ctx.config, { routerPort: ctx.ports?.router_port, port: ctx.port });
    const server = new UaaServer({ settings, log: ctx.log });
    const { host, advertise } = resolveAddresses(ctx);
    let registrar: RouteRegistrar | undefined;
    let registered = false;

    return {
      async start(nc: NatsConnection) {
        const port = await server.listen(settings.port, host);
        ctx.log.info('uaa listening', {
          host,
          port,
          url: settings.baseUrl,
          // (not "…token…" field names: the logger redacts those)
          access_validity_s: settings.accessTokenValiditySeconds,
          refresh_validity_s: settings.refreshTokenValiditySeconds,
        });
        registrar = new RouteRegistrar(nc, ctx.log);
        registrar.add({ host: advertise, port, uris: [`uaa.${settings.domain}`, ...ADDRESS_HOSTS.map((h) => `${h}${UAA_PATH_PREFIX}`)], tags: { component: 'uaa' }, private_instance_id: ctx.uuid });
        await registrar.start();
        registered = true;
      },
      healthy: () => server.listening && registered,
      varz: () => ({ port: server.port, url: settings.baseUrl, issuer: settings.issuer, ...server.stats() }),
      async stop() {
        registered = false;
        await registrar?.stop();
        await server.close();
      },
    };
  },
};

export default uaa;
