// Service credential binding actions: bind an instance to an app (its credentials reach the app's
// VCAP_SERVICES at its next start) or create a service key; delete either. A managed instance's
// broker is called first, outside any transaction; the binding and its audit event are then written
// in one, and only after the commit does the app's log say so.
import { newGuid, now, type RequestContext } from '../context.js';
import { notUnique, unprocessable } from '../errors.js';
import type { ServiceBindingCreateMessage } from '../messages/services.js';
import { findApp, type AppRow } from '../repositories/apps.js';
import type { JobRow } from '../repositories/jobs.js';
import { jsonColumn } from '../repositories/query.js';
import { deleteBinding, findAppBinding, findInstance, findKeyByName, getInstance, insertBinding, type BindingRow } from '../repositories/services.js';
import { getSpaceWithOrganization } from '../repositories/spaces.js';
import { apiLog } from './apps.js';
import { recordEvent } from './audit.js';
import { completedJob } from './jobs.js';
import { brokerOfPlan } from './service-brokers.js';
import { succeeded } from './service-instances.js';

export async function createServiceBinding(ctx: RequestContext, message: ServiceBindingCreateMessage): Promise<BindingRow> {
  const instance = await findInstance(ctx.db, message.instanceGuid);
  if (!instance) throw unprocessable('The service instance could not be found.');
  const { space, organization } = await getSpaceWithOrganization(ctx.db, instance.space_guid);
  let app: AppRow | undefined;
  if (message.type === 'app') {
    app = await findApp(ctx.db, message.appGuid);
    if (!app) throw unprocessable('The app could not be found.');
    if (app.space_guid !== instance.space_guid) throw unprocessable('The service instance and the app are in different spaces.');
    if (await findAppBinding(ctx.db, instance.guid, app.guid)) throw unprocessable('The app is already bound to the service instance.');
  } else {
    if (instance.type === 'user-provided') throw unprocessable('Service credential bindings of type key are not supported for user-provided service instances.');
    if (await findKeyByName(ctx.db, instance.guid, message.name)) {
      throw notUnique(`The binding name is invalid. Key binding names must be unique. The service instance already has a key binding with name '${message.name}'.`);
    }
  }
  const at = now();
  const row: BindingRow = {
    guid: newGuid(),
    type: message.type,
    name: message.name,
    instance_guid: instance.guid,
    app_guid: app?.guid ?? null,
    credentials: '{}',
    syslog_drain_url: null,
    last_operation: succeeded('create', at),
    metadata: JSON.stringify(message.metadata),
    created_at: at,
    updated_at: at,
  };
  if (instance.type === 'user-provided') {
    row.credentials = instance.credentials ?? '{}';
    row.syslog_drain_url = instance.syslog_drain_url;
  } else {
    // A managed instance has a plan (only user-provided ones have none).
    const { offering, client, ids } = await brokerOfPlan(ctx, instance.plan_guid!);
    if (jsonColumn('service_offerings', offering, 'catalog', {} as { bindable?: boolean }).bindable === false) throw unprocessable('Service instance is not bindable.');
    const answer = await client.bind(
      instance.guid,
      row.guid,
      {
        ...ids,
        ...(app ? { app_guid: app.guid, bind_resource: { app_guid: app.guid, space_guid: space.guid } } : { bind_resource: { credential_client_id: 'cf' } }),
        ...(message.parameters ? { parameters: message.parameters } : {}),
        context: { platform: 'cloudfoundry', organization_guid: organization.guid, organization_name: organization.name, space_guid: space.guid, space_name: space.name, instance_name: instance.name },
      },
      ids,
    );
    row.credentials = JSON.stringify(answer.credentials);
    row.syslog_drain_url = answer.syslog_drain_url ?? null;
  }
  await ctx.db.transaction().execute(async (trx) => {
    await insertBinding(trx, row);
    if (app) {
      const target = { guid: row.guid, type: 'service_binding', name: row.name ?? '' };
      await recordEvent(trx, { type: 'audit.service_binding.create', actor: ctx.actor, target, spaceGuid: space.guid, data: { request: { app_guid: app.guid, service_instance_guid: instance.guid } } });
    } else {
      const target = { guid: row.guid, type: 'service_key', name: row.name ?? '' };
      await recordEvent(trx, { type: 'audit.service_key.create', actor: ctx.actor, target, spaceGuid: space.guid, data: { request: { service_instance_guid: instance.guid, name: row.name } } });
    }
  });
  if (app) apiLog(ctx, app.guid, `Bound service instance ${instance.name} to app ${app.name}`);
  return row;
}

/**
 * Deletes a binding or key; a managed instance's broker unbinds it first. A user-provided
 * instance's binding is gone at once (204); a managed one's answers with a job.
 */
export async function deleteServiceBinding(ctx: RequestContext, row: BindingRow): Promise<JobRow | undefined> {
  const instance = await getInstance(ctx.db, row.instance_guid);
  if (instance.type === 'managed' && instance.plan_guid) {
    const { client, ids } = await brokerOfPlan(ctx, instance.plan_guid);
    await client.unbind(instance.guid, row.guid, ids);
  }
  const kind = row.type === 'app' ? 'service_binding' : 'service_key';
  const job = await ctx.db.transaction().execute(async (trx) => {
    await deleteBinding(trx, row.guid);
    await recordEvent(trx, {
      type: `audit.${kind}.delete`,
      actor: ctx.actor,
      target: { guid: row.guid, type: kind, name: row.name ?? '' },
      spaceGuid: instance.space_guid,
      data: { request: { app_guid: row.app_guid, service_instance_guid: instance.guid } },
    });
    return instance.type === 'user-provided' ? undefined : completedJob(trx, 'service_bindings.delete', { guid: row.guid, type: 'service_credential_binding' });
  });
  const app = row.app_guid ? await findApp(ctx.db, row.app_guid) : undefined;
  if (app) apiLog(ctx, app.guid, `Unbound service instance ${instance.name} from app ${app.name}`);
  return job;
}
