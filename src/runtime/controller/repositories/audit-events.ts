// Audit events: the only SQL that reads or writes them (actions record them through actions/audit.ts).
import type { Database } from '../db/schema.js';
import type { ListMessage } from '../messages/list.js';
import { filtered, found, page, type Db } from './query.js';

export type AuditEventRow = Omit<Database['audit_events'], 'seq'>;

export const insertAuditEvent = (db: Db, row: AuditEventRow) => db.insertInto('audit_events').values(row).execute();

export const AUDIT_EVENT_FILTERS = ['types', 'target_guids', 'space_guids', 'organization_guids'] as const;

export const listAuditEvents = (db: Db, message: ListMessage<(typeof AUDIT_EVENT_FILTERS)[number]>) =>
  page(filtered(db.selectFrom('audit_events').selectAll(), message.filters, { types: 'type', target_guids: 'target_guid', space_guids: 'space_guid', organization_guids: 'organization_guid' }), message, 'seq');

export const getAuditEvent = async (db: Db, guid: string): Promise<AuditEventRow> => found(await db.selectFrom('audit_events').selectAll().where('guid', '=', guid).executeTakeFirst(), 'Event');
