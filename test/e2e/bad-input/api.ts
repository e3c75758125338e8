// Every write endpoint of the controller, enumerated from its own route table (so a new endpoint
// is covered or this suite fails), driven with invalid JSON, bodies that are not objects and fields
// of the wrong type; every route with a guid driven with unknown and oddly encoded guids; names
// with odd characters. Each answer is a 4xx in Cloud Controller's error shape, and nothing changes.
import assert from 'node:assert/strict';
import { apiRoutes } from '../../../src/runtime/controller/http/server.js';
import { assertCfError, type BadInputBox } from './box.js';

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

/** The guids the write endpoints act on, created for the purpose (each route gets a real target). */
interface Targets {
  space: string;
  app: string;
  appName: string;
  process: string;
  route: string;
  destination: string;
  package: string;
  droplet: string;
  broker: string;
  instance: string;
  binding: string;
}

type Wrong = { body: unknown; detail: RegExp };
interface WriteCase {
  /** Real guids for the path, so that validation of the body is what answers. */
  path: (t: Targets) => string;
  /** Bodies with a field of the wrong type and the detail naming it (422). */
  wrong?: (t: Targets) => Wrong[];
  /** Endpoints that take no body (actions, deletes) ignore it: they are driven on an unknown guid. */
  noBody?: true;
  /** Uploads read the raw body: what invalid JSON gets there. */
  raw?: { status: number; title: string; detail: RegExp };
}

const rel = (name: string, guid: unknown) => ({ relationships: { [name]: { data: { guid } } } });

// Keyed by "METHOD /declared/path"; the test checks this list is exactly the controller's write routes.
const WRITES: Record<string, WriteCase> = {
  'POST /v3/organizations': { path: () => '/v3/organizations', wrong: () => [{ body: { name: 42 }, detail: /^Name must be a string$/ }, { body: { name: 'x', metadata: { labels: { a: 1 } } }, detail: /Metadata labels values must be strings/ }] },
  'POST /v3/spaces': { path: () => '/v3/spaces', wrong: (t) => [{ body: { name: ['dev'], ...rel('organization', t.space) }, detail: /^Name must be a string$/ }, { body: { name: 'x', relationships: 'org' }, detail: /^Relationships must be an object$/ }] },
  'POST /v3/apps': {
    path: () => '/v3/apps',
    wrong: (t) => [
      { body: { name: { first: 'a' }, ...rel('space', t.space) }, detail: /^Name must be a string$/ },
      { body: { name: 'wrong-types', ...rel('space', 7) }, detail: /Relationships space must be provided with data\.guid/ },
      { body: { name: 'wrong-types', ...rel('space', t.space), environment_variables: ['A=1'] }, detail: /environment/i },
      { body: { name: 'wrong-types', ...rel('space', t.space), lifecycle: 'buildpack' }, detail: /^Lifecycle must be an object$/ },
    ],
  },
  'PATCH /v3/apps/:guid': { path: (t) => `/v3/apps/${t.app}`, wrong: () => [{ body: { name: false }, detail: /^Name must be a string$/ }, { body: { metadata: [] }, detail: /^Metadata must be an object$/ }] },
  'DELETE /v3/apps/:guid': { path: () => `/v3/apps/${UNKNOWN}`, noBody: true },
  'PATCH /v3/apps/:guid/features/:name': { path: (t) => `/v3/apps/${t.app}/features/ssh`, wrong: () => [{ body: { enabled: 'true' }, detail: /^Enabled must be a boolean$/ }, { body: { enabled: false, name: 'ssh' }, detail: /^Unknown field\(s\): 'name'$/ }] },
  'PATCH /v3/spaces/:guid/features/:name': { path: (t) => `/v3/spaces/${t.space}/features/ssh`, wrong: () => [{ body: { enabled: 1 }, detail: /^Enabled must be a boolean$/ }] },
  'POST /v3/apps/:guid/actions/start': { path: () => `/v3/apps/${UNKNOWN}/actions/start`, noBody: true },
  'POST /v3/apps/:guid/actions/stop': { path: () => `/v3/apps/${UNKNOWN}/actions/stop`, noBody: true },
  'POST /v3/apps/:guid/actions/restart': { path: () => `/v3/apps/${UNKNOWN}/actions/restart`, noBody: true },
  'PATCH /v3/apps/:guid/environment_variables': { path: (t) => `/v3/apps/${t.app}/environment_variables`, wrong: () => [{ body: { var: 'A=1' }, detail: /^Var must be an object$/ }, { body: { var: { A: { nested: 1 } } }, detail: /A/ }] },
  'PATCH /v3/processes/:guid': { path: (t) => `/v3/processes/${t.process}`, wrong: () => [{ body: { command: 7 }, detail: /^Command must be a string$/ }, { body: { health_check: { type: 'http', data: { timeout: '60' } } }, detail: /^Timeout must be an integer$/ }] },
  'POST /v3/processes/:guid/actions/scale': { path: (t) => `/v3/processes/${t.process}/actions/scale`, wrong: () => [{ body: { instances: '3' }, detail: /^Instances must be an integer$/ }, { body: { memory_in_mb: 1.5 }, detail: /^Memory in mb must be an integer$/ }, { body: { instances: -1 }, detail: /greater than or equal to 0/ }] },
  'PATCH /v3/apps/:guid/processes/:type': { path: (t) => `/v3/apps/${t.app}/processes/web`, wrong: () => [{ body: { health_check: 'http' }, detail: /^Health check must be an object$/ }] },
  'POST /v3/apps/:guid/processes/:type/actions/scale': { path: (t) => `/v3/apps/${t.app}/processes/web/actions/scale`, wrong: () => [{ body: { disk_in_mb: null }, detail: /^Disk in mb must be an integer$/ }] },
  'POST /v3/routes': { path: () => '/v3/routes', wrong: (t) => [{ body: { host: 5, ...rel('space', t.space) }, detail: /^Host must be a string$/ }, { body: { host: 'h', path: ['/x'] }, detail: /^Path must be a string$/ }] },
  'DELETE /v3/routes/:guid': { path: () => `/v3/routes/${UNKNOWN}`, noBody: true },
  'POST /v3/routes/:guid/destinations': { path: (t) => `/v3/routes/${t.route}/destinations`, wrong: () => [{ body: { destinations: { app: {} } }, detail: /^Destinations must be a non-empty array$/ }, { body: { destinations: [{ app: { guid: 9 } }] }, detail: /^Destinations must have an app guid$/ }] },
  'DELETE /v3/routes/:guid/destinations/:destination': { path: (t) => `/v3/routes/${t.route}/destinations/${UNKNOWN}`, noBody: true },
  'POST /v3/resource_matches': { path: () => '/v3/resource_matches', wrong: () => [{ body: { resources: {} }, detail: /^Resources must be an array$/ }, { body: { resources: [{ checksum: { value: 'abc' }, size_in_bytes: 1 }] }, detail: /sha1 checksum/ }, { body: { resources: [{ checksum: { value: 'a'.repeat(40) }, size_in_bytes: '1' }] }, detail: /size_in_bytes/ }] },
  'POST /v3/packages': { path: () => '/v3/packages', wrong: (t) => [{ body: { type: 1, ...rel('app', t.app) }, detail: /^Type must be 'bits'$/ }, { body: { type: 'bits', ...rel('app', ['x']) }, detail: /Relationships app must be provided/ }] },
  'POST /v3/packages/:guid/upload': { path: (t) => `/v3/packages/${t.package}/upload`, raw: { status: 400, title: 'CF-MessageParseError', detail: /multipart\/form-data/ } },
  'POST /v3/builds': { path: () => '/v3/builds', wrong: (t) => [{ body: { package: t.package }, detail: /^Package must be an object$/ }, { body: { package: { guid: 1 } }, detail: /^Package guid must be given$/ }] },
  'PATCH /v3/apps/:guid/relationships/current_droplet': { path: (t) => `/v3/apps/${t.app}/relationships/current_droplet`, wrong: (t) => [{ body: { data: t.droplet }, detail: /^Data must be an object$/ }, { body: { data: { guid: 1 } }, detail: /^Data guid must be given$/ }] },
  // The canary's droplet is STAGED: an upload is refused whatever its body.
  'POST /v3/droplets/:guid/upload': { path: (t) => `/v3/droplets/${t.droplet}/upload`, raw: { status: 422, title: 'CF-UnprocessableEntity', detail: /cannot be uploaded again/ } },
  'POST /v3/service_brokers': { path: () => '/v3/service_brokers', wrong: () => [{ body: { name: 'b', url: 42, authentication: {} }, detail: /^Url must be a string$/ }, { body: { name: 'b', url: 'http://x', authentication: { type: 'basic', credentials: 'u:p' } }, detail: /^Credentials must be an object$/ }] },
  'PATCH /v3/service_brokers/:guid': { path: (t) => `/v3/service_brokers/${t.broker}`, wrong: () => [{ body: { name: [] }, detail: /^Name must be a string$/ }, { body: { url: 'not a url' }, detail: /^Url must be a valid url$/ }] },
  'DELETE /v3/service_brokers/:guid': { path: () => `/v3/service_brokers/${UNKNOWN}`, noBody: true },
  'POST /v3/service_instances': { path: () => '/v3/service_instances', wrong: (t) => [{ body: { type: 5 }, detail: /^Type must be one of/ }, { body: { type: 'user-provided', name: 'x', ...rel('space', t.space), credentials: 'secret' }, detail: /^Credentials must be an object$/ }, { body: { type: 'user-provided', name: 'x', ...rel('space', t.space), tags: 'a,b' }, detail: /Tags/ }] },
  'DELETE /v3/service_instances/:guid': { path: () => `/v3/service_instances/${UNKNOWN}`, noBody: true },
  'POST /v3/service_credential_bindings': { path: () => '/v3/service_credential_bindings', wrong: (t) => [{ body: { type: ['app'] }, detail: /^Type must be 'app' or 'key'$/ }, { body: { type: 'key', name: 3, ...rel('service_instance', t.instance) }, detail: /^Name must be a string$/ }] },
  'DELETE /v3/service_credential_bindings/:guid': { path: () => `/v3/service_credential_bindings/${UNKNOWN}`, noBody: true },
  'DELETE /v3/spaces/:guid': { path: () => `/v3/spaces/${UNKNOWN}`, noBody: true },
  'PATCH /v3/service_instances/:guid': { path: (t) => `/v3/service_instances/${t.instance}`, wrong: () => [{ body: { name: 5 }, detail: /^Name must be a string$/ }, { body: { tags: 'a,b' }, detail: /^Tags must be a list of strings$/ }] },
  'DELETE /v3/processes/:guid/instances/:index': { path: () => `/v3/processes/${UNKNOWN}/instances/0`, noBody: true },
  'DELETE /v3/apps/:guid/processes/:type/instances/:index': { path: () => `/v3/apps/${UNKNOWN}/processes/web/instances/0`, noBody: true },
  // Manifests are YAML: a JSON body (whatever it holds) is refused before it is read.
  'POST /v3/spaces/:guid/actions/apply_manifest': { path: (t) => `/v3/spaces/${t.space}/actions/apply_manifest`, raw: { status: 400, title: 'CF-InvalidRequest', detail: /^Content-Type must be yaml$/ } },
  'POST /v3/spaces/:guid/manifest_diff': { path: (t) => `/v3/spaces/${t.space}/manifest_diff`, raw: { status: 400, title: 'CF-InvalidRequest', detail: /^Content-Type must be yaml$/ } },
  'POST /v3/roles': {
    path: () => '/v3/roles',
    wrong: (t) => [
      { body: { type: 5, relationships: { user: { data: { username: 'admin' } }, ...rel('space', t.space).relationships } }, detail: /^Type must be one of the allowed types \[/ },
      { body: { type: 'space_developer', relationships: 'admin' }, detail: /^Relationships must be an object$/ },
      { body: { type: 'space_developer', relationships: { user: { data: { username: ['admin'] } }, ...rel('space', t.space).relationships } }, detail: /^Relationships username must be a string$/ },
    ],
  },
  'DELETE /v3/roles/:guid': { path: () => `/v3/roles/${UNKNOWN}`, noBody: true },
  'POST /v3/apps/:guid/tasks': {
    path: (t) => `/v3/apps/${t.app}/tasks`,
    wrong: () => [
      { body: { command: 5 }, detail: /^Command must be a string$/ },
      { body: { command: 'x', memory_in_mb: '1' }, detail: /^Memory in mb must be an integer$/ },
      { body: { command: 'x', template: 'web' }, detail: /^Template must be an object$/ },
    ],
  },
  'PATCH /v3/tasks/:guid': { path: () => `/v3/tasks/${UNKNOWN}`, noBody: true },
  'POST /v3/apps/:guid/sidecars': {
    path: (t) => `/v3/apps/${t.app}/sidecars`,
    wrong: () => [
      { body: { name: 5, command: 'x', process_types: ['web'] }, detail: /^Name must be a string$/ },
      { body: { name: 's', command: 'x', process_types: 'web' }, detail: /^Process types must be an array$/ },
      { body: { name: 's', command: 'x', process_types: ['web'], memory_in_mb: '64' }, detail: /^Memory in mb is not a number$/ },
    ],
  },
  'PATCH /v3/sidecars/:guid': { path: () => `/v3/sidecars/${UNKNOWN}`, noBody: true },
  'DELETE /v3/sidecars/:guid': { path: () => `/v3/sidecars/${UNKNOWN}`, noBody: true },
  'POST /v3/deployments': {
    path: () => '/v3/deployments',
    wrong: (t) => [
      { body: { ...rel('app', t.app), strategy: 5 }, detail: /^Strategy must be a string$/ },
      { body: { ...rel('app', t.app), droplet: 'd' }, detail: /^Droplet must be an object$/ },
      { body: { ...rel('app', t.app), options: { max_in_flight: '2' } }, detail: /^Max in flight must be an integer$/ },
    ],
  },
  'POST /v3/deployments/:guid/actions/cancel': { path: () => `/v3/deployments/${UNKNOWN}/actions/cancel`, noBody: true },
  'POST /v3/tasks/:guid/actions/cancel': { path: () => `/v3/tasks/${UNKNOWN}/actions/cancel`, noBody: true },
  'PUT /v3/tasks/:guid/cancel': { path: () => `/v3/tasks/${UNKNOWN}/cancel`, noBody: true },
  // The only mass delete: the space's routes mapped to no app (cf delete-orphaned-routes).
  'DELETE /v3/spaces/:guid/routes': { path: () => `/v3/spaces/${UNKNOWN}/routes?unmapped=true`, noBody: true },
};

/** What a route needs in its query before its guid is looked at (Cloud Controller checks the query first). */
const QUERY: Record<string, string> = { 'DELETE /v3/spaces/:guid/routes': '?unmapped=true' };

const NOT_OBJECTS = ['[]', '"a string"', '42', 'null', 'true', '[{"name":"x"}]'];
const INVALID_JSON = ['{"name": ', '{name: "x"}', "{'name':'x'}", '{"name":"x"}}', '\u0000\u0001\u0002', '{"name":"\\ud800"'];

export function apiWrites(get: () => BadInputBox): void {
  describe('every API write endpoint', () => {
    let t: Targets;
    let baseline: string;
    /** What a user relies on not changing: the target app, its env, process, routes, the instance. */
    const snapshot = async () => {
      const box = get();
      const parts = await Promise.all(
        [`/v3/apps/${t.app}`, `/v3/apps/${t.app}/environment_variables`, `/v3/processes/${t.process}`, `/v3/routes/${t.route}/destinations`, `/v3/packages/${t.package}`, `/v3/service_instances/${t.instance}`, `/v3/service_credential_bindings/${t.binding}`, `/v3/service_brokers/${t.broker}`, '/v3/organizations', '/v3/spaces', '/v3/apps?per_page=5000', '/v3/routes?per_page=5000', '/v3/service_instances', '/v3/service_brokers', '/v3/roles?per_page=5000', '/v3/users?per_page=5000'].map(async (p) => {
          const res = await box.api.call('GET', p);
          assert.equal(res.status, 200, `${p}: ${res.text}`);
          const body = res.json();
          for (const r of [body, ...(body.resources ?? [])]) delete r.updated_at;
          return JSON.stringify(body);
        }),
      );
      return parts.join('\n');
    };

    before(async function () {
      const box = get();
      const call = async (method: string, p: string, body?: unknown, status = 201) => {
        const res = await box.api.call(method, p, body);
        assert.equal(res.status, status, `${method} ${p}: ${res.text}`);
        return res.json();
      };
      const space = (await call('GET', '/v3/spaces?names=dev', undefined, 200)).resources[0].guid as string;
      const app = await call('POST', '/v3/apps', { name: 'bad-input-target', ...rel('space', space), environment_variables: { KEEP: 'me' } });
      const process = await call('GET', `/v3/apps/${app.guid}/processes/web`, undefined, 200);
      const domain = (await call('GET', '/v3/domains', undefined, 200)).resources[0].guid as string;
      const route = await call('POST', '/v3/routes', { host: 'bad-input-target', ...rel('space', space), relationships: { space: { data: { guid: space } }, domain: { data: { guid: domain } } } });
      const destinations = await call('POST', `/v3/routes/${route.guid}/destinations`, { destinations: [{ app: { guid: app.guid } }] }, 200);
      const pkg = await call('POST', '/v3/packages', { type: 'bits', ...rel('app', app.guid) });
      const canary = (await call('GET', '/v3/apps?names=canary', undefined, 200)).resources[0].guid as string;
      const droplet = (await call('GET', `/v3/apps/${canary}/droplets/current`, undefined, 200)).guid as string;
      const broker = (await call('GET', '/v3/service_brokers', undefined, 200)).resources[0]?.guid as string;
      assert.ok(broker, 'the built-in broker is registered');
      const instance = await call('POST', '/v3/service_instances', { type: 'user-provided', name: 'bad-input-ups', ...rel('space', space), credentials: { uri: 'x://y' } });
      const binding = await call('POST', '/v3/service_credential_bindings', { type: 'app', relationships: { service_instance: { data: { guid: instance.guid } }, app: { data: { guid: app.guid } } } });
      t = { space, app: app.guid, appName: app.name, process: process.guid, route: route.guid, destination: destinations.destinations[0].guid, package: pkg.guid, droplet, broker, instance: instance.guid, binding: binding.guid };
      baseline = await snapshot();
    });

    it('covers exactly the controller write routes its source declares', () => {
      const declared = apiRoutes()
        .list()
        .filter((r) => r.method !== 'GET')
        .map((r) => `${r.method} ${r.path}`)
        .sort();
      assert.ok(declared.length >= 25, declared.join('\n'));
      assert.deepEqual(Object.keys(WRITES).sort(), declared, 'a write route without a bad-input case (or a case for a route that is gone)');
    });

    it('answers invalid JSON on each with 400 CF-MessageParseError (or the upload/404 answer), in v3 error shape', async () => {
      const box = get();
      for (const [key, c] of Object.entries(WRITES)) {
        const method = key.split(' ')[0];
        for (const text of INVALID_JSON) {
          const res = await box.api.call(method, c.path(t), text);
          const what = `${key} with ${JSON.stringify(text)}`;
          if (c.raw) assertCfError(res, c.raw.status, c.raw.title, c.raw.detail, what);
          else if (c.noBody && method === 'DELETE') assertCfError(res, 404, 'CF-ResourceNotFound', /not found/, what);
          else assertCfError(res, 400, 'CF-MessageParseError', /^Request invalid due to parse error: /, what);
        }
      }
      assert.equal(await snapshot(), baseline, 'invalid JSON changed something');
    });

    it('answers bodies that are not objects with 400, and fields of the wrong type with 422 naming the field', async () => {
      const box = get();
      for (const [key, c] of Object.entries(WRITES)) {
        const method = key.split(' ')[0];
        if (c.raw) continue;
        if (c.noBody) {
          // Nothing to validate in the body: an unknown guid is what such a request can get wrong.
          assertCfError(await box.api.call(method, c.path(t), '[]'), 404, 'CF-ResourceNotFound', /not found$/, key);
          continue;
        }
        for (const text of NOT_OBJECTS) assertCfError(await box.api.call(method, c.path(t), text), 400, 'CF-MessageParseError', /must be a JSON object/, `${key} with ${text}`);
        assert.ok(c.wrong, `${key} has no wrong-type bodies`);
        for (const { body, detail } of c.wrong(t)) assertCfError(await box.api.call(method, c.path(t), body), 422, 'CF-UnprocessableEntity', detail, `${key} with ${JSON.stringify(body)}`);
      }
      assert.equal(await snapshot(), baseline, 'a refused body changed something');
      await box.stillWorks('wrong types on every write endpoint');
    });

    it('answers unknown and oddly encoded guids on every route with a guid with a 4xx, never a 5xx', async () => {
      const box = get();
      const odd = [UNKNOWN, 'not-a-guid', '%00', '..%2F..%2Fetc%2Fpasswd', "'%20OR%201=1--", '%F0%9F%92%A5', 'a'.repeat(4096), '%E0%A4%A', '%ZZ', '%'];
      const withGuid = apiRoutes()
        .list()
        .filter((r) => r.path.includes(':'));
      for (const r of withGuid) {
        for (const guid of odd) {
          const p = r.path.replace(/:type\b/, 'web').replace(/:[a-z_]+/g, guid) + (QUERY[`${r.method} ${r.path}`] ?? '');
          const body = r.method === 'GET' || r.method === 'DELETE' || r.rawBody ? undefined : {};
          const res = await box.api.call(r.method, p, body, r.rawBody ? { 'content-type': 'multipart/form-data; boundary=x' } : {});
          const what = `${r.method} ${p.slice(0, 120)}`;
          if (/^%(E0%A4%A|ZZ|)$/.test(guid)) assertCfError(res, 400, 'CF-InvalidRequest', /malformed percent-encoding.*%25/, what);
          else assertCfError(res, 404, 'CF-ResourceNotFound', /not found$/, what);
        }
      }
      assert.equal(await snapshot(), baseline);
      await box.stillWorks('unknown guids');
    });

    it('takes names with odd characters as data, refuses control characters, and the CLI shows them', async () => {
      const box = get();
      const create = (name: unknown) => box.api.call('POST', '/v3/apps', { name, ...rel('space', t.space) });
      const accepted = ["o'brien; DROP TABLE apps;--", 'héllo wörld ☃ 💥', '../../etc/passwd', '<script>alert(1)</script>', '%s%n%x', 'a'.repeat(255), 'العربية'];
      for (const name of accepted) {
        const res = await create(name);
        assert.equal(res.status, 201, `${JSON.stringify(name)}: ${res.text}`);
        assert.equal(res.json().name, name);
        const found = await box.api.call('GET', `/v3/apps?names=${encodeURIComponent(name)}`);
        assert.deepEqual(found.json().resources.map((a: { name: string }) => a.name), [name], 'found by its exact name');
      }
      assertCfError(await create('a'.repeat(256)), 422, 'CF-UnprocessableEntity', /^Name is too long \(maximum is 255 characters\)$/, '256 characters');
      assertCfError(await create('   '), 422, 'CF-UnprocessableEntity', /^Name can't be blank$/, 'blank');
      for (const name of ['line\nbreak', 'nul\u0000byte', 'bell\u0007', 'esc\u001b[31mred', 'del\u007f']) {
        assertCfError(await create(name), 422, 'CF-UnprocessableEntity', /^Name must not contain control characters/, JSON.stringify(name));
      }
      // The CLI finds and prints them as they are.
      const apps = await box.cli(['apps']);
      assert.equal(apps.exitCode, 0, apps.stderr);
      for (const name of ["o'brien; DROP TABLE apps;--", 'héllo wörld ☃ 💥', '<script>alert(1)</script>']) assert.ok(apps.stdout.includes(name), `${name} in\n${apps.stdout}`);
      const one = await box.cli(['app', 'héllo wörld ☃ 💥']);
      assert.equal(one.exitCode, 0, one.stderr);
      assert.match(one.stdout, /^name: +héllo wörld ☃ 💥$/m);
      for (const name of accepted) assert.equal((await box.cli(['delete', name, '-f'])).exitCode, 0, name);
      assert.equal((await box.api.call('GET', '/v3/apps?names=canary')).json().resources.length, 1);
      await box.stillWorks('odd names');
    });
  });
}
