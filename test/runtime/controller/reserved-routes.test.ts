// The platform's host names in the shared domain are not an app's to take: the controller refuses
// such a route (422, Cloud Controller's error shape) and creates nothing. And a request that comes
// in on the cf address (127.0.0.1 / localhost on the router's port) gets its links on that address.
// The controller in the test process (helpers/controller.ts), on SQLite.
import assert from 'node:assert/strict';
import { request } from '../../../src/runtime/common/http.js';
import { RESERVED_HOSTNAMES } from '../../../src/runtime/common/config.js';
import { startController, type ControllerHarness } from '../../helpers/controller.js';

describe('controller: reserved platform host names and the cf address (in-process)', function () {
  this.timeout(30_000);
  let box: ControllerHarness;
  let spaceGuid: string;
  let domainGuid: string;

  before(async () => {
    box = await startController();
    spaceGuid = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid;
    domainGuid = (await box.call('GET', '/v3/domains?names=localhost')).json().resources[0].guid;
  });
  after(async () => box?.stop());

  const createRoute = (host: string, extra: Record<string, unknown> = {}) =>
    box.call('POST', '/v3/routes', { host, ...extra, relationships: { domain: { data: { guid: domainGuid } }, space: { data: { guid: spaceGuid } } } });

  it('refuses a route on every reserved host name of the shared domain, in any case, and creates nothing', async () => {
    const eventsBefore = (await box.call('GET', '/v3/audit_events?types=audit.route.create')).json().pagination.total_results;
    for (const host of [...RESERVED_HOSTNAMES, 'API', 'Log-Cache']) {
      const res = await createRoute(host);
      assert.equal(res.status, 422, `${host}: ${res.text}`);
      const [error] = res.json().errors;
      assert.equal(error.code, 10008);
      assert.equal(error.title, 'CF-UnprocessableEntity');
      assert.equal(error.detail, `Route conflicts with a reserved system route: the hostname '${host.toLowerCase()}' is reserved for the platform in domain 'localhost'.`);
    }
    // With a path too: /v3 on api.localhost would still be the platform's host.
    assert.equal((await createRoute('uaa', { path: '/oauth' })).status, 422);
    assert.equal((await box.call('GET', `/v3/routes?hosts=${RESERVED_HOSTNAMES.join(',')}`)).json().pagination.total_results, 0);
    assert.equal((await box.call('GET', '/v3/audit_events?types=audit.route.create')).json().pagination.total_results, eventsBefore, 'no audit event either');
  });

  it('refuses a manifest that routes an app to a reserved host name, and creates nothing (apply_manifest)', async () => {
    for (const manifest of [
      'applications:\n- name: takeover\n  routes:\n  - route: api.localhost\n',
      // The default route of an app named like a platform host.
      'applications:\n- name: uaa\n',
    ]) {
      const res = await box.call('POST', `/v3/spaces/${spaceGuid}/actions/apply_manifest`, manifest, { 'content-type': 'application/x-yaml' });
      assert.equal(res.status, 422, res.text);
      assert.match(res.json().errors[0].detail, /reserved for the platform in domain 'localhost'/);
    }
    assert.equal((await box.call('GET', '/v3/apps?names=takeover,uaa')).json().pagination.total_results, 0, 'no app was created');
    assert.equal((await box.call('GET', '/v3/routes?hosts=api,uaa')).json().pagination.total_results, 0, 'no route was created');
  });

  it('takes host names that only look like them', async () => {
    for (const host of ['apix', 'my-api', 'uaa2', 'logsapp']) {
      const res = await createRoute(host);
      assert.equal(res.status, 201, `${host}: ${res.text}`);
    }
  });

  it('answers on the cf address with links there; on api.<domain> with the name-based ones', async () => {
    const port = new URL(box.api).port;
    const root = JSON.parse((await request({ url: `http://127.0.0.1:${port}/` })).text).links;
    assert.equal(root.self.href, `http://127.0.0.1:${port}`);
    assert.equal(root.cloud_controller_v3.href, `http://127.0.0.1:${port}/v3`);
    assert.equal(root.uaa.href, `http://127.0.0.1:${port}/uaa`);
    assert.equal(root.login.href, `http://127.0.0.1:${port}/uaa`);
    // log-cache's client sets its paths outright (/api/v1/…): the link is the address itself.
    assert.equal(root.log_cache.href, `http://127.0.0.1:${port}`);
    const secure = JSON.parse((await request({ url: `http://localhost:${port}/`, headers: { 'x-forwarded-proto': 'https' } })).text).links;
    assert.equal(secure.uaa.href, `https://localhost:${port}/uaa`);

    const named = JSON.parse((await request({ url: `${box.api}/` })).text).links;
    assert.equal(named.self.href, box.api);
    assert.equal(named.uaa.href, box.uaa);
    // A Host that is neither is not echoed into links.
    const other = JSON.parse((await request({ url: `http://127.0.0.1:${port}/`, headers: { host: 'evil.example' } })).text).links;
    assert.equal(other.self.href, box.api);

    // Links in lists and a job's Location follow the address too (cf follows both).
    const onAddress = (path: string, method = 'GET') => request({ url: `http://127.0.0.1:${port}${path}`, method, headers: { authorization: `bearer ${box.token}` } });
    const spaces = JSON.parse((await onAddress('/v3/spaces')).text);
    assert.equal(spaces.pagination.first.href.startsWith(`http://127.0.0.1:${port}/v3/spaces`), true, spaces.pagination.first.href);
    assert.equal(spaces.resources[0].links.self.href, `http://127.0.0.1:${port}/v3/spaces/${spaceGuid}`);
    const route = (await createRoute('to-delete')).json();
    const deleted = await onAddress(`/v3/routes/${route.guid}`, 'DELETE');
    assert.equal(deleted.status, 202, deleted.text);
    assert.match(String(deleted.headers.location), new RegExp(`^http://127\\.0\\.0\\.1:${port}/v3/jobs/`));
  });
});
