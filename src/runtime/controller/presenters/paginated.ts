// The v3 list shape: `{pagination: {total_results, total_pages, first, last, next, previous}, resources}`,
// with links that repeat the request's query (filters included) for each page.
import type { ListParams } from '../messages/list.js';

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
