// The controller's bus subscriptions, the bus side of what the other controllers do for HTTP: each
// message is checked where it arrives (bus-messages.ts) and handed to an action. As queue
// subscribers, one controller of several handles each message.
import { subscribe, type NatsConnection } from '../../common/bus.js';
import { dropletExited, healthStart, healthStop, taskExited } from '../../common/bus-messages.js';
import type { ControllerContext } from '../context.js';
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
}
