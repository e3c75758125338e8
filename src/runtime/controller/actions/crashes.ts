// An instance crashed (droplet.exited with reason CRASHED): recorded and announced as Cloud
// Controller does, with the app's process as the actor and an `[API/0]` ERR line on its log stream.
import type { DropletExited } from '../../common/bus-messages.js';
import type { ControllerContext } from '../context.js';
import { findApp, findAppProcess } from '../repositories/apps.js';
import { recordAppEvent } from './audit.js';

export async function recordCrash(ctx: Pick<ControllerContext, 'db' | 'appLog' | 'counters'>, crash: DropletExited): Promise<void> {
  const app = await findApp(ctx.db, crash.droplet);
  if (!app) return;
  ctx.counters.crashes++;
  const web = await findAppProcess(ctx.db, app.guid, 'web');
  const type = web?.type ?? 'web';
  ctx.appLog(app.guid, { source: 'API', message: `Process has crashed with type: "${type}"`, type: 'ERR' });
  await recordAppEvent(ctx.db, { guid: web?.guid ?? app.guid, type: 'process', name: type }, app, 'audit.app.process.crash', {
    instance: crash.instance,
    index: crash.index,
    reason: crash.reason,
    exit_status: crash.exit_status,
    exit_description: crash.exit_description,
  });
}
