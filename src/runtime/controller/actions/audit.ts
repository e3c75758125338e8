// Recording audit events: one for every change (audit.app.create, audit.app.update, …), with the
// actor and time, in the space and organization of what changed.
import { newGuid, now, type Actor } from '../context.js';
import { insertAuditEvent } from '../repositories/audit-events.js';
import type { Db } from '../repositories/query.js';
import { findSpace } from '../repositories/spaces.js';

export interface AuditEventInput {
  type: string;
  /** Who did it: a user or client of the API, or (for a crash) the app's process. */
  actor: Pick<Actor, 'guid' | 'name'> & { type: Actor['type'] | 'process' };
  target: { guid: string; type: string; name: string };
  /** The space of the target; its organization is looked up unless given. */
  spaceGuid?: string | null;
  organizationGuid?: string | null;
  data?: Record<string, unknown>;
}

export async function recordEvent(db: Db, event: AuditEventInput): Promise<void> {
  const at = now();
  const organizationGuid = event.organizationGuid ?? (event.spaceGuid ? ((await findSpace(db, event.spaceGuid))?.organization_guid ?? null) : null);
  await insertAuditEvent(db, {
    guid: newGuid(),
    type: event.type,
    actor_guid: event.actor.guid,
    actor_type: event.actor.type,
    actor_name: event.actor.name,
    target_guid: event.target.guid,
    target_type: event.target.type,
    target_name: event.target.name,
    space_guid: event.spaceGuid ?? null,
    organization_guid: organizationGuid,
    data: JSON.stringify(event.data ?? {}),
    created_at: at,
    updated_at: at,
  });
}

/** An event about an app (the commonest kind): the app is the target, in its space. */
export const recordAppEvent = (db: Db, actor: AuditEventInput['actor'], app: { guid: string; name: string; space_guid: string }, type: string, data: Record<string, unknown> = {}) =>
  recordEvent(db, { type, actor, target: { guid: app.guid, type: 'app', name: app.name }, spaceGuid: app.space_guid, data });
