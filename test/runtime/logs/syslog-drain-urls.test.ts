// The controller's side of syslog drains: Cloud Controller's /internal/v4/syslog_drain_urls in the
// test process (helpers/controller.ts, SQLite and MySQL): apps with a drain (a user-provided instance's
// syslog_drain_url, through its bindings), their org.space.app hostname, paging by next_id as Cloud
// Controller pages, changes seen at once, and only for the components (an
// admin token); a user's token is refused.
import assert from 'node:assert/strict';
import { controllerTestDatabases, startController, type ControllerHarness } from '../../helpers/controller.js';

const PATH = '/internal/v4/syslog_drain_urls';

for (const database of controllerTestDatabases()) {
  describe(`syslog drains: the controller’s /internal/v4/syslog_drain_urls (${database.name}, in-process)`, function () {
    this.timeout(30_000);
    let box: ControllerHarness;
    let spaceGuid: string;

    before(async () => {
      await database.start();
      box = await startController({ database });
      spaceGuid = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid;
    });
    after(async () => {
      await box?.stop();
      await database.stop();
    });

    const created = async (path: string, body: unknown) => {
      const res = await box.call('POST', path, body);
      assert.equal(res.status, 201, `${path}: ${res.text}`);
      return res.json() as { guid: string };
    };
    const app = (name: string) => created('/v3/apps', { name, relationships: { space: { data: { guid: spaceGuid } } } });
    const upsi = (name: string, extra: Record<string, unknown>) => created('/v3/service_instances', { type: 'user-provided', name, relationships: { space: { data: { guid: spaceGuid } } }, ...extra });
    const bind = (instance: string, appGuid: string) => created('/v3/service_credential_bindings', { type: 'app', relationships: { app: { data: { guid: appGuid } }, service_instance: { data: { guid: instance } } } });
    const drains = async (query = '', token?: string) => {
      const res = await box.call('GET', `${PATH}${query}`, undefined, token ? { authorization: `bearer ${token}` } : {});
      assert.equal(res.status, 200, res.text);
      return res.json() as { results: Record<string, { drains: string[]; hostname: string }>; next_id: number | null };
    };

    it('lists the apps whose bindings carry a drain, with their hostname, as Cloud Controller', async () => {
      const hello = await app('hello');
      const fancy = await app('My App!');
      const plain = await app('plain');
      const tcp = await upsi('tcp-drain', { syslog_drain_url: 'syslog://logs.example.com:514' });
      const web = await upsi('https-drain', { syslog_drain_url: 'https://user:pw@logs.example.com/in?x=1' });
      const creds = await upsi('just-credentials', { credentials: { url: 'https://api.example' } });
      await bind(tcp.guid, hello.guid);
      await bind(web.guid, hello.guid);
      await bind(tcp.guid, fancy.guid);
      await bind(creds.guid, plain.guid);

      const page = await drains();
      assert.deepEqual(page.results, {
        [hello.guid]: { drains: ['syslog://logs.example.com:514', 'https://user:pw@logs.example.com/in?x=1'], hostname: 'devbox.dev.hello' },
        [fancy.guid]: { drains: ['syslog://logs.example.com:514'], hostname: 'devbox.dev.My-App' },
      });
      assert.equal(page.next_id, 50, 'offset + batch_size while the page had apps');
      assert.deepEqual(await drains('?next_id=50'), { results: {}, next_id: null });

      // One app a page, in guid order.
      const first = await drains('?batch_size=1');
      const second = await drains(`?batch_size=1&next_id=${first.next_id}`);
      const third = await drains(`?batch_size=1&next_id=${second.next_id}`);
      assert.deepEqual([Object.keys(first.results), Object.keys(second.results), Object.keys(third.results)], [[hello.guid, fancy.guid].sort().slice(0, 1), [hello.guid, fancy.guid].sort().slice(1), []]);
      assert.deepEqual([first.next_id, second.next_id, third.next_id], [1, 2, null]);
    });

    it('follows updates and unbinds at once', async () => {
      const app2 = await app('follows');
      const instance = await upsi('changing', { syslog_drain_url: 'syslog://one.example.com:514' });
      const binding = await bind(instance.guid, app2.guid);
      assert.deepEqual((await drains('?batch_size=5000')).results[app2.guid].drains, ['syslog://one.example.com:514']);
      assert.equal((await box.call('PATCH', `/v3/service_instances/${instance.guid}`, { syslog_drain_url: 'syslog-tls://two.example.com:6514' })).status, 200);
      assert.deepEqual((await drains('?batch_size=5000')).results[app2.guid].drains, ['syslog-tls://two.example.com:6514']);
      const unbound = await box.call('DELETE', `/v3/service_credential_bindings/${binding.guid}`);
      assert.ok([202, 204].includes(unbound.status), unbound.text);
      assert.equal((await drains('?batch_size=5000')).results[app2.guid], undefined);
    });

    it('answers the components’ token; refuses users and nonsense', async () => {
      assert.ok(Object.keys((await drains('', await box.componentsToken())).results).length >= 2);
      const user = await box.mint({ scope: ['cloud_controller.read', 'cloud_controller.write', 'openid'] });
      const refused = await box.call('GET', PATH, undefined, { authorization: `bearer ${user}` });
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.json().errors[0].title, 'CF-NotAuthorized');
      assert.equal((await box.call('GET', PATH, undefined, { authorization: '' })).status, 401);
      for (const query of ['?next_id=-1', '?next_id=abc', '?batch_size=0', '?batch_size=5001', '?page=2']) {
        const bad = await box.call('GET', `${PATH}${query}`);
        assert.equal(bad.status, 400, `${query}: ${bad.text}`);
        assert.equal(bad.json().errors[0].title, 'CF-BadQueryParameter');
      }
    });
  });
}
