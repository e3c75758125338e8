// An instance crashed (droplet.exited with reason CRASHED): recorded and announced as Cloud
// Controller does, with the app's process as the actor and an `[API/0]` ERR line on its log stream.
import type { DropletExited } from '../../common/bus-messages.js';
import type { ControllerContext } from '../context.js';
import { findApp, findProcess } from '../repositories/apps.js';
import { recordAppEvent } from './audit.js';

export async function recordCrash(ctx: Pick<ControllerContext, 'db' | 'appLog' | 'counters'>, crash: DropletExited): Promise<void> {
  // `droplet` is the process's guid.
  const process = await findProcess(ctx.db, crash.droplet);
  const app = process && (await findApp(ctx.db, process.app_guid));
  if (!process || !app) return;
  ctx.counters.crashes++;
  ctx.appLog(app.guid, { source: 'API', message: `Process has crashed with type: "${process.type}"`, type: 'ERR' });
  await recordAppEvent(ctx.db, { guid: process.guid, type: 'process', name: process.type }, app, 'audit.app.process.crash', {
    instance: crash.instance,
    index: crash.index,
    reason: crash.reason,
    exit_status: crash.exit_status,
    exit_description: crash.exit_description,
  });
}
