// Tasks: the only SQL that reads or writes them.
import type { Database } from '../db/schema.js';
import type { ListMessage } from '../messages/list.js';
import { filtered, found, page, type Db } from './query.js';

export type TaskRow = Database['tasks'];

/** States a task ends in; it changes no more. */
export const FINAL_TASK_STATES = ['SUCCEEDED', 'FAILED'] as const;
/** States of a task that a DEA runs or may still run. */
export const LIVE_TASK_STATES = ['PENDING', 'RUNNING', 'CANCELING'] as const;

export const TASK_FILTERS = ['guids', 'names', 'states', 'app_guids', 'sequence_ids', 'space_guids', 'organization_guids'] as const;

export const findTask = (db: Db, guid: string) => db.selectFrom('tasks').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getTask = async (db: Db, guid: string): Promise<TaskRow> => found(await findTask(db, guid), 'Task');

export const listTasks = (db: Db, message: ListMessage<(typeof TASK_FILTERS)[number]>, appGuid?: string) => {
  let query = db.selectFrom('tasks').selectAll();
  if (appGuid) query = query.where('app_guid', '=', appGuid);
  const spacesOf = (orgs: string[]) => db.selectFrom('spaces').select('guid').where('organization_guid', 'in', orgs);
  return page(
    filtered(query, message.filters, {
      guids: 'guid',
      names: 'name',
      states: 'state',
      app_guids: 'app_guid',
      sequence_ids: (q, ids) => q.where('sequence_id', 'in', ids.map(Number).filter(Number.isInteger)),
      space_guids: (q, spaces) => q.where('app_guid', 'in', db.selectFrom('apps').select('guid').where('space_guid', 'in', spaces)),
      organization_guids: (q, orgs) => q.where('app_guid', 'in', db.selectFrom('apps').select('guid').where('space_guid', 'in', spacesOf(orgs))),
    }),
    message,
  );
};

/** The app's next sequence id (1 for its first task): taken in the transaction that inserts the task. */
export async function nextSequenceId(db: Db, appGuid: string): Promise<number> {
  const row = await db.selectFrom('tasks').select((eb) => eb.fn.max('sequence_id').as('last')).where('app_guid', '=', appGuid).executeTakeFirst();
  return Number(row?.last ?? 0) + 1;
}

export const insertTask = (db: Db, row: TaskRow) => db.insertInto('tasks').values(row).execute();

/** Moves a task to `state` unless it has already ended (a late report never undoes an end). */
export const updateLiveTask = (db: Db, guid: string, changes: Partial<Pick<TaskRow, 'state' | 'failure_reason' | 'dea_id' | 'updated_at'>>) =>
  db.updateTable('tasks').set(changes).where('guid', '=', guid).where('state', 'in', [...LIVE_TASK_STATES]).executeTakeFirst();

export const liveTasks = (db: Db) => db.selectFrom('tasks').selectAll().where('state', 'in', [...LIVE_TASK_STATES]).execute();

export const liveTasksOfApp = (db: Db, appGuid: string) => db.selectFrom('tasks').selectAll().where('app_guid', '=', appGuid).where('state', 'in', [...LIVE_TASK_STATES]).execute();

export const deleteTasksOfApp = (db: Db, appGuid: string) => db.deleteFrom('tasks').where('app_guid', '=', appGuid).execute();
