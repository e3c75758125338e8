// The controller's bus subscriptions, the bus side of what the other controllers do for HTTP: each
// message is checked where it arrives (bus-messages.ts) and handed to an action. As queue
// subscribers, one controller of several handles each message; the ssh proxies' advertisements
// are the exception: every controller keeps them for its own `GET /`.
import { requestMany, subscribe, type NatsConnection, type Subscription } from '../../common/bus.js';
import { dropletExited, healthStart, healthStop, sshAdvertise, sshDiscover, taskExited } from '../../common/bus-messages.js';
import type { Logger } from '../../common/log.js';
import type { ControllerContext } from '../context.js';
import type { SshProxies } from '../ssh-proxies.js';
import { recordCrash } from '../actions/crashes.js';
import { taskEnded } from '../actions/tasks.js';
import { startInstances, stopProcess } from '../actions/instances.js';
import { findProcess } from '../repositories/apps.js';

export function subscribeControllerMessages(bus: NatsConnection, ctx: ControllerContext): void {
  const options = { log: ctx.log, queue: 'controllers' };
  // The health manager asks for missing instances of a process's version (`droplet` is the
  // process's guid); a newer version makes them moot.
  subscribe(bus, healthStart, async (msg) => {
    const process = await findProcess(ctx.db, msg.droplet);
    if (!process || (msg.version && msg.version !== process.version)) return;
    await startInstances(ctx, process.guid, msg.indices);
  }, options);
  subscribe(bus, healthStop, (msg) => {
    if (msg.instances.length > 0) stopProcess(ctx, msg.droplet, { instances: msg.instances });
  }, options);
  subscribe(bus, dropletExited, async (msg) => {
    if (msg.reason === 'CRASHED') await recordCrash(ctx, msg);
  }, options);
  subscribe(bus, taskExited, (msg) => taskEnded(ctx, msg), options);
  if (ctx.sshProxies) followSshProxies(bus, ctx.sshProxies, ctx.log);
}

/** How long the question at start gathers the answers of proxies already running (at most; 100 ms after the last). */
const SSH_DISCOVER_WAIT_MS = 1_000;

/**
 * Every controller hears every `ssh.advertise` (no queue: each answers `GET /`), and asks
 * `ssh.discover` once now so that a proxy that started first is known at once, not at its next
 * advertisement. `discovered` resolves once the answers are in (or nobody answered).
 */
export function followSshProxies(bus: NatsConnection, proxies: SshProxies, log: Logger): { subscription: Subscription; discovered: Promise<void> } {
  const subscription = subscribe(bus, sshAdvertise, (ad) => proxies.heard(ad), { log });
  const discovered = (async () => {
    try {
      for await (const ad of requestMany(bus, sshDiscover, {}, { log, maxWait: SSH_DISCOVER_WAIT_MS, jitter: 100 })) proxies.heard(ad);
    } catch (error) {
      log.warn('asking the ssh proxies failed', { error: (error as Error).message });
    }
  })();
  return { subscription, discovered };
}
