// A v3 list request: page, per_page, order_by and the comma-separated filters a resource accepts
// (`names=a,b`). Bad paging or ordering is 400 CF-BadQueryParameter, as Cloud Controller answers.
import { ApiError } from '../errors.js';

export interface ListParams {
  page: number;
  perPage: number;
  orderBy: string;
  descending: boolean;
}

/** A list request: paging and ordering, and each filter given (an absent filter is undefined). */
export interface ListMessage<F extends string = string> extends ListParams {
  filters: Partial<Record<F, string[]>>;
}

export const ORDER_BY_NAME = ['created_at', 'updated_at', 'name'];
export const ORDER_BY_TIME = ['created_at', 'updated_at'];

export function listParams(query: URLSearchParams, orderable: string[] = ORDER_BY_NAME): ListParams {
  const int = (key: string, fallback: number, max: number) => {
    const raw = query.get(key);
    if (raw === null) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      throw new ApiError('BadQueryParameter', `The query parameter is invalid: ${key} must be between 1 and ${max}`);
    }
    return n;
  };
  const order = query.get('order_by') ?? 'created_at';
  const descending = order.startsWith('-');
  const orderBy = order.replace(/^[-+]/, '');
  if (!orderable.includes(orderBy)) {
    throw new ApiError('BadQueryParameter', `The query parameter is invalid: Order by can only be: '${orderable.join("', '")}'`);
  }
  return { page: int('page', 1, 1_000_000), perPage: int('per_page', 50, 5000), orderBy, descending };
}

/** A comma-separated filter (`names=a,b`), or undefined when absent. */
export function filterList(query: URLSearchParams, key: string): string[] | undefined {
  const raw = query.get(key);
  if (raw === null) return undefined;
  return raw.split(',').map((v) => v.trim()).filter((v) => v !== '');
}

/** Paging, ordering (`orderable`) and the named filters of a list request. */
export function listMessage<F extends string>(query: URLSearchParams, filters: readonly F[], orderable: string[] = ORDER_BY_NAME): ListMessage<F> {
  const given: Partial<Record<F, string[]>> = {};
  for (const key of filters) {
    const values = filterList(query, key);
    if (values) given[key] = values;
  }
  return { ...listParams(query, orderable), filters: given };
}
