// Shared by the controller's service tests (services.test.ts in the test process, box.test.ts
// through the CLI): a small Open Service Broker API broker with switches to fail.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Mode = 'ok' | '500' | 'timeout' | 'garbage' | '400';

export interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/**
 * A tiny OSBAPI broker: one offering (`test-db`, plans tiny and big), basic auth, switchable
 * failures. `planUpdateable`: the offering says plan_updateable (updates answer 200, or 202 then a
 * succeeded last_operation with `modes.update` 'async').
 */
export function startTestBroker(username: string, password: string, { planUpdateable = false } = {}) {
  const seen: Seen[] = [];
  const modes: { provision: Mode; bind: Mode; update: Mode | 'async' } = { provision: 'ok', bind: 'ok', update: 'ok' };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://broker');
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      seen.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, body });
      const reply = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(typeof value === 'string' ? value : JSON.stringify(value));
      };
      if (req.headers.authorization !== `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`) return reply(401, {});
      if (req.headers['x-broker-api-version'] !== '2.17') return reply(412, { description: 'version' });
      const fail = (mode: Mode, created: unknown) => {
        if (mode === 'ok') return reply(201, created);
        if (mode === '500') return reply(500, { description: 'the broker broke' });
        if (mode === '400') return reply(400, { error: 'BadRequest', description: 'plan says no' });
        if (mode === 'garbage') return reply(201, '<html>not json');
        // timeout: answer never (the platform gives up first)
      };
      if (req.method === 'GET' && url.pathname === '/v2/catalog') {
        return reply(200, {
          services: [
            {
              id: 'svc-1',
              name: 'test-db',
              description: 'A database for tests',
              bindable: true,
              tags: ['testing', 'db'],
              ...(planUpdateable ? { plan_updateable: true } : {}),
              plans: [
                { id: 'plan-tiny', name: 'tiny', description: 'A tiny one', free: true },
                { id: 'plan-big', name: 'big', description: 'A big one', free: false },
              ],
            },
          ],
        });
      }
      const binding = /^\/v2\/service_instances\/([^/]+)\/service_bindings\/([^/]+)$/.exec(url.pathname);
      if (binding && req.method === 'PUT') return fail(modes.bind, { credentials: { uri: `mysql://u-${binding[2].slice(0, 8)}:pw@db.example:3306/d`, username: `u-${binding[2].slice(0, 8)}` } });
      if (binding && req.method === 'DELETE') return reply(200, {});
      const instance = /^\/v2\/service_instances\/([^/]+)$/.exec(url.pathname);
      if (instance && req.method === 'PUT') return fail(modes.provision, { dashboard_url: `http://dash.example/${instance[1]}` });
      if (instance && req.method === 'DELETE') return reply(200, {});
      if (instance && req.method === 'PATCH') {
        if (modes.update === 'async') return reply(202, { operation: 'update-1' });
        if (modes.update === 'ok') return reply(200, { dashboard_url: `http://dash.example/${instance[1]}/updated` });
        return fail(modes.update, {});
      }
      if (/^\/v2\/service_instances\/[^/]+\/last_operation$/.test(url.pathname) && req.method === 'GET') return reply(200, { state: 'succeeded' });
      reply(404, {});
    });
  });
  return {
    seen,
    modes,
    listen: () => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
