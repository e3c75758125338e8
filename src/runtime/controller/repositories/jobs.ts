// Jobs: the only SQL that reads or writes them.
import type { Database } from '../db/schema.js';
import { found, type Db } from './query.js';

export type JobRow = Database['jobs'];

export const insertJob = (db: Db, row: JobRow) => db.insertInto('jobs').values(row).execute();

export const getJob = async (db: Db, guid: string): Promise<JobRow> => found(await db.selectFrom('jobs').selectAll().where('guid', '=', guid).executeTakeFirst(), 'Job');
