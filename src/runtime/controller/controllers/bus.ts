// The controller's bus subscriptions, the bus side of what the other controllers do for HTTP: each
// message is checked where it arrives (bus-messages.ts) and handed to an action. As queue
// subscribers, one controller of several handles each message.
import { subscribe, type NatsConnection } from '../../common/bus.js';
import { dropletExited, healthStart, healthStop } from '../../common/bus-messages.js';
import type { ControllerContext } from '../context.js';
import { recordCrash } from '../actions/crashes.js';
import { startInstances, stopApp } from '../actions/instances.js';
import { findAppProcess } from '../repositories/apps.js';

export function subscribeControllerMessages(bus: NatsConnection, ctx: ControllerContext): void {
  const options = { log: ctx.log, queue: 'controllers' };
  // The health manager asks for missing instances of a version; a newer version makes them moot.
  subscribe(bus, healthStart, async (msg) => {
    const web = await findAppProcess(ctx.db, msg.droplet, 'web');
    if (!web || (msg.version && msg.version !== web.version)) return;
    await startInstances(ctx, msg.droplet, msg.indices);
  }, options);
  subscribe(bus, healthStop, (msg) => {
    if (msg.instances.length > 0) stopApp(ctx, msg.droplet, { instances: msg.instances });
  }, options);
  subscribe(bus, dropletExited, async (msg) => {
    if (msg.reason === 'CRASHED') await recordCrash(ctx, msg);
  }, options);
}
