// The `ssh-proxy` component (docs/ssh.md): Diego's ssh proxy for devbox. Users reach it directly on
// its own port (ssh is not HTTP: the routers do not carry it); it tells the controller where it is
// and which host key it has with `ssh.advertise`, so that `GET /` can give cf both.
import type { NatsConnection } from '../common/bus.js';
import { publish, respond, subscribe, type Subscription } from '../common/bus.js';
import { sshAdvertise, sshDiscover, type SshAdvertisement } from '../common/bus-messages.js';
import { resolveAddresses, type ComponentContext, type ComponentModule } from '../common/component.js';
import { Authorizer } from './authorizer.js';
import { SshProxyServer } from './server.js';
import { sshProxySettings } from './settings.js';

const ADVERTISE_INTERVAL_MS = 10_000;

const sshProxy: ComponentModule = {
  type: 'SshProxy',
  create(ctx: ComponentContext) {
    const settings = sshProxySettings(ctx.config, { routerPort: ctx.ports?.router_port, port: ctx.port ?? ctx.ports?.ssh_port });
    const { host, advertise } = resolveAddresses(ctx);
    let bus: NatsConnection | undefined;
    const server = new SshProxyServer(settings, new Authorizer(settings, () => bus), ctx.log);
    let port = 0;
    let timer: NodeJS.Timeout | undefined;
    let discover: Subscription | undefined;
    const advertisement = (): SshAdvertisement => ({ id: ctx.uuid, host: advertise, port, host_key_fingerprint: settings.hostKeyFingerprint });

    return {
      async start(nc: NatsConnection) {
        bus = nc;
        port = await server.listen(settings.port, host);
        ctx.log.info('ssh proxy listening', { host, port, fingerprint: settings.hostKeyFingerprint });
        discover = subscribe(nc, sshDiscover, (_req, msg) => respond(nc, msg, sshDiscover, advertisement()), { log: ctx.log });
        publish(nc, sshAdvertise, advertisement());
        timer = setInterval(() => publish(nc, sshAdvertise, advertisement()), ADVERTISE_INTERVAL_MS);
        timer.unref();
      },
      healthy: () => server.listening,
      varz: () => ({ port, host_key_fingerprint: settings.hostKeyFingerprint, ...server.stats }),
      async stop() {
        clearInterval(timer);
        discover?.unsubscribe();
        await server.close();
      },
    };
  },
};

export default sshProxy;
