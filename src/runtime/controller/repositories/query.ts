// What every repository shares: the database handle (a transaction is one too), paging a list
// query, list filters as `column IN (…)`, unique violations told by the driver's error code, and
// JSON columns read strictly (a corrupt document is an error that names its row).
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import { notFound } from '../errors.js';
import type { ListParams } from '../messages/list.js';
import type { Database } from '../db/schema.js';

/** The database, or a transaction on it: repositories take either, so an action can make several calls one transaction. */
export type Db = Kysely<Database>;

export async function page<TB extends keyof Database, O>(
  query: SelectQueryBuilder<Database, TB, O>,
  params: ListParams,
  tieBreaker = 'guid',
): Promise<{ total: number; rows: O[] }> {
  const counted = await query
    .clearSelect()
    .select((eb) => eb.fn.countAll<number | string>().as('total'))
    .executeTakeFirst();
  const direction = params.descending ? 'desc' : 'asc';
  const rows = await query
    .orderBy(sql.ref(params.orderBy), direction)
    .orderBy(sql.ref(tieBreaker), direction)
    .limit(params.perPage)
    .offset((params.page - 1) * params.perPage)
    .execute();
  return { total: Number(counted?.total ?? 0), rows };
}

/**
 * The list filters given, each as `column IN (values)`: `columns` maps a filter's name to its
 * column, or to a function for filters that need a subquery. A filter given empty (`names=`)
 * matches nothing, as Cloud Controller's does.
 */
export function filtered<TB extends keyof Database, O, F extends string>(
  query: SelectQueryBuilder<Database, TB, O>,
  filters: Partial<Record<F, string[]>>,
  columns: Record<F, string | ((q: SelectQueryBuilder<Database, TB, O>, values: string[]) => SelectQueryBuilder<Database, TB, O>)>,
): SelectQueryBuilder<Database, TB, O> {
  let q = query;
  for (const key of Object.keys(columns) as F[]) {
    const values = filters[key];
    if (!values) continue;
    const nonEmpty = values.length ? values : [''];
    const column = columns[key];
    q = typeof column === 'function' ? column(q, nonEmpty) : q.where(sql.ref(column), 'in', nonEmpty);
  }
  return q;
}

/** The row a `getX` asks for, or 404 CF-ResourceNotFound naming the resource. */
export function found<T>(row: T | undefined, resource: string): T {
  if (!row) throw notFound(resource);
  return row;
}

/** SQLite's and MySQL's codes for a unique (or primary) key violation. */
const UNIQUE_VIOLATIONS = new Set(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'ER_DUP_ENTRY']);

export const isUniqueViolation = (error: unknown): boolean => UNIQUE_VIOLATIONS.has(String((error as { code?: unknown } | null)?.code));

/** A JSON document in the database that does not parse: data was damaged outside the controller. */
export class CorruptRowError extends Error {}

/**
 * Reads the JSON column `column` of a row of `table`. null (or empty) is `empty`; text that is not
 * JSON is a CorruptRowError naming the table, the row and the column, never silently a default.
 */
export function jsonColumn<T, R extends { guid?: string }, K extends keyof R & string>(table: keyof Database, row: R & Record<K, string | null>, column: K, empty: T): T {
  const text = row[column];
  if (text === null || text === '') return empty;
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new CorruptRowError(`${table} row ${row.guid ?? '?'}: column ${column} is not valid JSON (${(error as Error).message})`);
  }
}
