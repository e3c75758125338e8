// Paging a list query: the total, then one page in the requested order (ties broken by a stable key).
import { sql, type SelectQueryBuilder } from 'kysely';
import type { ListParams } from '../api/pagination.js';
import type { Database } from '../db/schema.js';

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

/** A unique-constraint violation, in SQLite's words or MySQL's. */
export const isUniqueViolation = (error: unknown) => /unique|duplicate/i.test((error as Error).message);
