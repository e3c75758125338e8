// v3 list parameters (page, per_page, order_by, filters) and the paginated list shape.
import { ApiError } from './errors.js';

export interface ListParams {
  page: number;
  perPage: number;
  orderBy: string;
  descending: boolean;
}

export function listParams(query: URLSearchParams, orderable: string[] = ['created_at', 'updated_at', 'name']): ListParams {
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

export function paginated<T>(baseUrl: string, path: string, query: URLSearchParams, params: ListParams, total: number, resources: T[]) {
  const totalPages = Math.max(1, Math.ceil(total / params.perPage));
  const link = (page: number) => {
    const q = new URLSearchParams(query);
    q.set('page', String(page));
    q.set('per_page', String(params.perPage));
    return { href: `${baseUrl}${path}?${q.toString()}` };
  };
  return {
    pagination: {
      total_results: total,
      total_pages: totalPages,
      first: link(1),
      last: link(totalPages),
      next: params.page < totalPages ? link(params.page + 1) : null,
      previous: params.page > 1 ? link(params.page - 1) : null,
    },
    resources,
  };
}
