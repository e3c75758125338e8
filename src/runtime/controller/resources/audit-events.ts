// Audit events: one for every change (audit.app.create, audit.app.update, …), with actor and time.
import type { Kysely } from 'kysely';
import { notFound } from '../api/errors.js';
import type { Routes } from '../api/http.js';
import { filterList, listParams, paginated } from '../api/pagination.js';
import type { Database } from '../db/schema.js';
import { newGuid, now, parseJson, type Actor, type RequestContext } from '../context.js';
import { page } from './query.js';

export interface AuditEventInput {
  type: string;
  /** Who did it: a user or client of the API, or (for a crash) the app's process. */
  actor: Pick<Actor, 'guid' | 'name'> & { type: Actor['type'] | 'process' };
  target: { guid: string; type: string; name: string };
  spaceGuid?: string | null;
  organizationGuid?: string | null;
  data?: Record<string, unknown>;
}

export async function recordEvent(db: Kysely<Database>, event: AuditEventInput): Promise<void> {
  const at = now();
  await db
    .insertInto('audit_events')
    .values({
      guid: newGuid(),
      type: event.type,
      actor_guid: event.actor.guid,
      actor_type: event.actor.type,
      actor_name: event.actor.name,
      target_guid: event.target.guid,
      target_type: event.target.type,
      target_name: event.target.name,
      space_guid: event.spaceGuid ?? null,
      organization_guid: event.organizationGuid ?? null,
      data: JSON.stringify(event.data ?? {}),
      created_at: at,
      updated_at: at,
    })
    .execute();
}

type Row = Database['audit_events'];

export function presentEvent(row: Omit<Row, 'seq'>, ctx: RequestContext) {
  return {
    guid: row.guid,
    created_at: row.created_at,
    updated_at: row.updated_at,
    type: row.type,
    actor: { guid: row.actor_guid, type: row.actor_type, name: row.actor_name },
    target: { guid: row.target_guid, type: row.target_type, name: row.target_name },
    data: parseJson(row.data, {}),
    space: row.space_guid ? { guid: row.space_guid } : null,
    organization: row.organization_guid ? { guid: row.organization_guid } : null,
    links: { self: { href: `${ctx.urls.api}/v3/audit_events/${row.guid}` } },
  };
}

export function auditEventRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/audit_events', async (req, ctx) => {
    const params = listParams(req.query, ['created_at', 'updated_at']);
    let q = ctx.db.selectFrom('audit_events').selectAll();
    const types = filterList(req.query, 'types');
    const targets = filterList(req.query, 'target_guids');
    const spaces = filterList(req.query, 'space_guids');
    const orgs = filterList(req.query, 'organization_guids');
    if (types) q = q.where('type', 'in', types.length ? types : ['']);
    if (targets) q = q.where('target_guid', 'in', targets.length ? targets : ['']);
    if (spaces) q = q.where('space_guid', 'in', spaces.length ? spaces : ['']);
    if (orgs) q = q.where('organization_guid', 'in', orgs.length ? orgs : ['']);
    const { total, rows } = await page(q, params, 'seq');
    return { body: paginated(ctx.urls.api, '/v3/audit_events', req.query, params, total, rows.map((r) => presentEvent(r, ctx))) };
  });
  routes.get('/v3/audit_events/:guid', async (req, ctx) => {
    const row = await ctx.db.selectFrom('audit_events').selectAll().where('guid', '=', req.params.guid).executeTakeFirst();
    if (!row) throw notFound('Event');
    return { body: presentEvent(row, ctx) };
  });
}
