// May this user ssh into this instance? The ssh proxy asks for every session (docs/ssh.md), with
// the user's token, as Diego's asks Cloud Controller's AppsSSHController: an admin or a space
// developer (who may update the process), with ssh on for the space and the app. Every answer
// about a known process is recorded on its app: audit.app.ssh-authorized or -unauthorized.
import { ApiError, notAuthorized, notFound } from '../errors.js';
import type { RequestContext } from '../context.js';
import { presentSshStatus } from '../presenters/features.js';
import { findProcess, getApp } from '../repositories/apps.js';
import { getSpace } from '../repositories/spaces.js';
import { recordAppEvent } from './audit.js';
import { hasSpaceRole, ROLES_FOR_SPACE_WRITING } from './permissions.js';

/** What the proxy needs to ask the DEAs for the instance (`dea.ssh.open`). */
export interface SshAccess {
  process_guid: string;
  app_guid: string;
  /** The process's current version: a rolling deployment may run instances of two. */
  version: string;
  index: number;
}

export async function authorizeSsh(ctx: RequestContext, processGuid: string, indexParam: string): Promise<SshAccess> {
  const process = await findProcess(ctx.db, processGuid);
  // Cloud Controller answers its v2 CF-AppNotFound here; devbox's 404 is the one every route gives.
  if (!process) throw notFound('App');
  const app = await getApp(ctx.db, process.app_guid);
  const space = await getSpace(ctx.db, app.space_guid);
  const index = /^\d{1,9}$/.test(indexParam) ? Number(indexParam) : undefined;
  try {
    if (!(await hasSpaceRole(ctx, space, ROLES_FOR_SPACE_WRITING))) throw notAuthorized();
    // devbox's check (Cloud Controller takes any index): the proxy sends the number from `cf:<guid>/<index>`.
    if (index === undefined) throw new ApiError('InvalidRequest', `The request is invalid: the instance index must be a number, not '${indexParam.slice(0, 64)}'`);
    // Cloud Controller's words when ssh is off, whichever switch is off (GET /v3/apps/:guid/ssh_enabled says which).
    if (!presentSshStatus(app, space).enabled) throw new ApiError('InvalidRequest', 'The request is invalid');
  } catch (error) {
    await recordAppEvent(ctx.db, ctx.actor, app, 'audit.app.ssh-unauthorized', { index: index ?? indexParam });
    throw error;
  }
  await recordAppEvent(ctx.db, ctx.actor, app, 'audit.app.ssh-authorized', { index });
  return { process_guid: process.guid, app_guid: app.guid, version: process.version, index };
}
