// Shared by the controller's service tests (services.test.ts and services-async.test.ts in the test
// process, box.test.ts through the CLI, the e2e services-async test against a whole box): a small
// Open Service Broker API broker with switches to fail in each way the spec's orphan-mitigation
// table lists, to answer asynchronously, to be slow, and to go away.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../../../src/runtime/common/poll.js';

/**
 * How the broker answers a provision, bind, update, deprovision or unbind:
 * - `ok`: at once (201/200 with a body);
 * - `async`: 202 with an operation, then `asyncPolls` last_operation polls `in progress`, then `succeeded`;
 * - `async-fail`: the same, then `failed` ("the broker gave up");
 * - `500`, `timeout` (never answers), `garbage` (201 with HTML), `204`, `408`, `200-garbage`: failures
 *   after which the broker may hold something (it does: the platform must clean up);
 * - `400` (with a description), `422-empty` (no body): refusals, nothing made;
 * - `busy`: 422 ConcurrencyError (another operation on the resource runs), nothing made.
 */
export type Mode = 'ok' | 'async' | 'async-fail' | '500' | 'timeout' | 'garbage' | '204' | '408' | '200-garbage' | '400' | '422-empty' | 'busy';

export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

interface Pending {
  polls: number;
  fail: boolean;
  /** What a success leaves: the instance or binding made (create) or gone (delete). */
  done: () => void;
}

/**
 * A tiny OSBAPI broker: one offering (`test-db`, plans tiny and big), basic auth, switchable
 * answers. `planUpdateable`: the offering says plan_updateable. `delayMs` (changeable) delays every
 * answer but the catalog's: a slow broker; `catalogDelayMs` the catalog's. `instances` and `bindings` are what it holds.
 */
export function startTestBroker(username: string, password: string, { planUpdateable = false, offering = 'test-db', delayMs = 0, maximumPollingDuration }: { planUpdateable?: boolean; offering?: string; delayMs?: number; maximumPollingDuration?: number } = {}) {
  const seen: Seen[] = [];
  const modes: { provision: Mode; bind: Mode; update: Mode; deprovision: Mode; unbind: Mode; lastOperation: 'ok' | '500' } = { provision: 'ok', bind: 'ok', update: 'ok', deprovision: 'ok', unbind: 'ok', lastOperation: 'ok' };
  /** `retryAfterS`: the Retry-After header of `in progress` last operations. */
  const settings: { delayMs: number; catalogDelayMs: number; asyncPolls: number; retryAfterS?: number } = { delayMs, catalogDelayMs: 0, asyncPolls: 2 };
  const instances = new Set<string>();
  const bindings = new Map<string, Record<string, unknown>>();
  const pending = new Map<string, Pending>();
  let operations = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://broker');
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      seen.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body });
      const reply = (status: number, value?: unknown) => {
        if (res.destroyed) return;
        res.writeHead(status, value === undefined ? {} : { 'content-type': 'application/json' });
        res.end(value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value));
      };
      if (req.headers.authorization !== `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`) return reply(401, {});
      if (req.headers['x-broker-api-version'] !== '2.17') return reply(412, { description: 'version' });
      if (req.method === 'GET' && url.pathname === '/v2/catalog') {
        const catalog = () => reply(200, {
          services: [
            {
              id: 'svc-1',
              name: offering,
              description: 'A database for tests',
              bindable: true,
              tags: ['testing', 'db'],
              instances_retrievable: true,
              bindings_retrievable: true,
              ...(planUpdateable ? { plan_updateable: true } : {}),
              plans: [
                { id: 'plan-tiny', name: 'tiny', description: 'A tiny one', free: true, ...(maximumPollingDuration ? { maximum_polling_duration: maximumPollingDuration } : {}) },
                { id: 'plan-big', name: 'big', description: 'A big one', free: false },
              ],
            },
          ],
        });
        if (settings.catalogDelayMs > 0) setTimeout(catalog, settings.catalogDelayMs);
        else catalog();
        return;
      }
      const answer = () => {
        /** A change the broker makes (create or delete) answered by `mode`; `made` is what it holds after. */
        const change = (mode: Mode, key: string, made: () => void, okStatus: number, okBody: unknown) => {
          switch (mode) {
            case 'ok':
              made();
              return reply(okStatus, okBody);
            case 'async':
            case 'async-fail': {
              const operation = `op-${++operations}`;
              pending.set(key, { polls: settings.asyncPolls, fail: mode === 'async-fail', done: made });
              return reply(202, { operation });
            }
            case '400':
              return reply(400, { error: 'BadRequest', description: 'plan says no' });
            case '422-empty':
              return reply(422);
            case 'busy':
              return reply(422, { error: 'ConcurrencyError', description: 'Another operation for this Service Instance is in progress.' });
            // The rest leave the broker holding what it made: the platform must clean up.
            case '500':
              made();
              return reply(500, { description: 'the broker broke' });
            case 'garbage':
              made();
              return reply(201, '<html>not json');
            case '200-garbage':
              made();
              return reply(200, '<html>not json');
            case '204':
              made();
              return reply(204);
            case '408':
              made();
              return reply(408, { description: 'too slow' });
            case 'timeout':
              made(); // and never answer (the platform gives up first)
              return;
          }
        };
        const binding = /^\/v2\/service_instances\/([^/]+)\/service_bindings\/([^/]+)(\/last_operation)?$/.exec(url.pathname);
        const instance = /^\/v2\/service_instances\/([^/]+)(\/last_operation)?$/.exec(url.pathname);
        const key = binding ? `binding:${binding[2]}` : instance ? `instance:${instance[1]}` : '';
        if ((binding?.[3] || instance?.[2]) && req.method === 'GET') {
          if (modes.lastOperation === '500') return reply(500, { description: 'last_operation broke' });
          const op = pending.get(key);
          if (!op) return (binding ? bindings.has(binding[2]) : instances.has(instance![1])) ? reply(200, { state: 'succeeded' }) : reply(410, {});
          if (op.polls > 0) {
            op.polls--;
            if (settings.retryAfterS !== undefined) res.setHeader('retry-after', String(settings.retryAfterS));
            return reply(200, { state: 'in progress', description: `${op.polls} polls to go` });
          }
          pending.delete(key);
          if (op.fail) return reply(200, { state: 'failed', description: 'the broker gave up' });
          op.done();
          return reply(200, { state: 'succeeded', description: 'done' });
        }
        if (binding && req.method === 'PUT') {
          const credentials = { uri: `mysql://u-${binding[2].slice(0, 8)}:pw@db.example:3306/d`, username: `u-${binding[2].slice(0, 8)}` };
          return change(modes.bind, key, () => void bindings.set(binding[2], credentials), 201, { credentials });
        }
        if (binding && req.method === 'GET') return bindings.has(binding[2]) ? reply(200, { credentials: bindings.get(binding[2]) }) : reply(404, {});
        if (binding && req.method === 'DELETE') {
          if (!bindings.has(binding[2]) && modes.unbind === 'ok') return reply(410, {});
          return change(modes.unbind, key, () => void bindings.delete(binding[2]), 200, {});
        }
        if (instance && req.method === 'PUT') return change(modes.provision, key, () => void instances.add(instance[1]), 201, { dashboard_url: `http://dash.example/${instance[1]}` });
        if (instance && req.method === 'DELETE') {
          if (!instances.has(instance[1]) && modes.deprovision === 'ok') return reply(410, {});
          return change(modes.deprovision, key, () => void instances.delete(instance[1]), 200, {});
        }
        if (instance && req.method === 'PATCH') return change(modes.update, key, () => undefined, 200, { dashboard_url: `http://dash.example/${instance[1]}/updated` });
        reply(404, {});
      };
      if (settings.delayMs > 0) setTimeout(answer, settings.delayMs);
      else answer();
    });
  });
  return {
    seen,
    modes,
    settings,
    instances,
    bindings,
    /** Lets every asynchronous operation under way end at its next poll. */
    settle: () => {
      for (const op of pending.values()) op.polls = 0;
    },
    /** Listens (again, after `close`, on `port` when given: a broker that comes back). */
    listen: (port = 0) => new Promise<number>((resolve) => server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type TestBroker = ReturnType<typeof startTestBroker>;

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders; json: () => any }>; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON shapes

/** The job path of a 202's `Location` (asserting it is one). */
export function jobPath(res: { status: number; text: string; headers: http.IncomingHttpHeaders }): string {
  if (res.status !== 202 || typeof res.headers.location !== 'string') throw new Error(`expected 202 with a Location, got ${res.status}: ${res.text}`);
  return new URL(res.headers.location).pathname;
}

/** Polls the job of a 202 until it is in one of `states` (default: ended), bounded; its JSON. */
export async function jobIn(call: Call, res: { status: number; text: string; headers: http.IncomingHttpHeaders }, states: string[] = ['COMPLETE', 'FAILED'], timeoutMs = 10_000): Promise<{ guid: string; state: string; operation: string; errors: { detail: string; title: string; code: number }[] }> {
  const path = jobPath(res);
  return waitFor(`job ${path} to be ${states.join(' or ')}`, async () => {
    const job = (await call('GET', path)).json();
    return states.includes(job.state) ? job : undefined;
  }, { timeoutMs, intervalMs: 20 });
}
