// The v3 endpoints the real cf CLI reads for a developer's day, in the test process
// (helpers/controller.ts) on SQLite and MySQL: `GET /v3`'s links, stacks, buildpacks, feature flags,
// deployments, sidecars, service route bindings, an organization's domains, route reservations, a
// package's droplets, and `include`/`fields` on the service lists (what fills cf's marketplace,
// services and service tables). Shapes, statuses and errors as Cloud Controller's v3 reference.
// test/e2e/cf-cli.test.ts runs the real cf against a real box.
import assert from 'node:assert/strict';
import { request } from '../../../src/runtime/common/http.js';
import { tarball, uploadBody } from '../../helpers/archives.js';
import { controllerTestDatabases, finishedBuild, STAGED_RESULT, startController, type ControllerHarness } from '../../helpers/controller.js';
import { jobIn, startTestBroker } from './helpers.js';

for (const database of controllerTestDatabases()) {
  describe(`the v3 endpoints cf reads (${database.name}, in-process)`, function () {
    this.timeout(30_000);
    let box: ControllerHarness;
    let spaceGuid: string;
    let orgGuid: string;
    let domainGuid: string;
    const broker = startTestBroker('broker-user', 'broker-s3cret');

    before(async () => {
      const brokerUrl = `http://127.0.0.1:${await broker.listen()}`;
      await database.start();
      box = await startController({ database });
      const space = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0];
      spaceGuid = space.guid;
      orgGuid = space.relationships.organization.data.guid;
      domainGuid = (await box.call('GET', '/v3/domains?names=localhost')).json().resources[0].guid;
      const registered = await box.call('POST', '/v3/service_brokers', { name: 'test-broker', url: brokerUrl, authentication: { type: 'basic', credentials: { username: 'broker-user', password: 'broker-s3cret' } } });
      assert.equal(registered.status, 202, registered.text);
    });
    after(async () => {
      await box?.stop();
      await database.stop();
      broker.close();
    });

    const get = async (path: string, status = 200) => {
      const res = await box.call('GET', path);
      assert.equal(res.status, status, `GET ${path}: ${res.text}`);
      return res.json();
    };
    const errorOf = async (path: string, status: number, title: string) => {
      const body = await get(path, status);
      assert.equal(body.errors[0].title, title, JSON.stringify(body));
      return body.errors[0].detail as string;
    };

    it('GET /v3 links every resource cf routes to, each to a path that is served', async () => {
      const links = (await get('/v3')).links as Record<string, { href: string }>;
      for (const name of ['apps', 'packages', 'builds', 'droplets', 'processes', 'routes', 'domains', 'organizations', 'spaces', 'service_brokers', 'service_offerings', 'service_plans', 'service_instances', 'service_credential_bindings', 'service_route_bindings', 'stacks', 'buildpacks', 'feature_flags', 'deployments', 'tasks']) {
        assert.ok(links[name], `no link ${name}`);
        assert.equal(links[name].href, `${box.api}/v3/${name}`);
      }
      for (const name of ['apps', 'packages', 'builds', 'processes', 'routes', 'stacks', 'buildpacks', 'feature_flags', 'deployments', 'service_route_bindings', 'tasks']) {
        assert.equal((await box.call('GET', `/v3/${name}`)).status, 200, `GET /v3/${name}`);
      }
    });

    it('stacks: one, host, described as the host machine; an unknown guid is 404', async () => {
      const list = await get('/v3/stacks');
      assert.equal(list.pagination.total_results, 1);
      const [stack] = list.resources;
      assert.equal(stack.name, 'host');
      assert.match(stack.description, /host machine/);
      assert.equal(stack.default, true);
      assert.equal(stack.links.self.href, `${box.api}/v3/stacks/${stack.guid}`);
      assert.deepEqual(await get(`/v3/stacks/${stack.guid}`), stack);
      assert.equal((await get('/v3/stacks?names=cflinuxfs4')).resources.length, 0);
      assert.equal(await errorOf('/v3/stacks/no-such-stack', 404, 'CF-ResourceNotFound'), 'Stack not found');
    });

    it('buildpacks: the built-in ones by position, READY, enabled, not locked, on stack host', async () => {
      const list = await get('/v3/buildpacks?order_by=position');
      assert.deepEqual(list.resources.map((b: { name: string; position: number }) => [b.position, b.name]), [[1, 'java'], [2, 'ruby'], [3, 'nodejs'], [4, 'go'], [5, 'python'], [6, 'php'], [7, 'staticfile'], [8, 'binary']]);
      for (const b of list.resources) {
        assert.equal(b.state, 'READY');
        assert.equal(b.stack, 'host');
        assert.equal(b.enabled, true);
        assert.equal(b.locked, false);
        assert.equal(b.lifecycle, 'buildpack');
      }
      assert.deepEqual((await get('/v3/buildpacks')).resources.map((b: { name: string }) => b.name), ['java', 'ruby', 'nodejs', 'go', 'python', 'php', 'staticfile', 'binary'], 'unordered: detection order');
      const descending = await get('/v3/buildpacks?order_by=-position&per_page=1');
      assert.equal(descending.resources[0].name, 'binary');
      assert.equal(descending.pagination.total_pages, 8);
      assert.equal((await get(`/v3/buildpacks/${list.resources[0].guid}`)).name, 'java');
      assert.equal((await get('/v3/buildpacks?names=python')).resources[0].position, 5);
      await errorOf('/v3/buildpacks?order_by=nonsense', 400, 'CF-BadQueryParameter');
    });

    it("feature flags: Cloud Controller's, at their defaults, by name", async () => {
      const list = await get('/v3/feature_flags');
      const names = list.resources.map((f: { name: string }) => f.name);
      assert.deepEqual(names, [...names].sort());
      assert.ok(names.includes('route_creation'));
      const sharing = await get('/v3/feature_flags/service_instance_sharing');
      assert.deepEqual(sharing, { name: 'service_instance_sharing', enabled: false, updated_at: null, custom_error_message: null, links: { self: { href: `${box.api}/v3/feature_flags/service_instance_sharing` } } });
      assert.equal((await get('/v3/feature_flags/user_org_creation')).enabled, false);
      assert.equal(await errorOf('/v3/feature_flags/no_such_flag', 404, 'CF-ResourceNotFound'), 'Feature flag not found');
    });

    it('deployments, sidecars and service route bindings: empty lists, unknown guids 404', async () => {
      const app = (await box.call('POST', '/v3/apps', { name: 'sidecar-app', relationships: { space: { data: { guid: spaceGuid } } } })).json();
      const deployments = await get(`/v3/deployments?app_guids=${app.guid}&status_values=ACTIVE`);
      assert.deepEqual(deployments.resources, []);
      assert.equal(deployments.pagination.total_results, 0);
      await errorOf('/v3/deployments/no-such', 404, 'CF-ResourceNotFound');
      const process = (await get(`/v3/apps/${app.guid}/processes/web`)).guid;
      assert.deepEqual((await get(`/v3/processes/${process}/sidecars`)).resources, []);
      assert.deepEqual((await get(`/v3/apps/${app.guid}/sidecars`)).resources, []);
      assert.equal(await errorOf('/v3/processes/no-such/sidecars', 404, 'CF-ResourceNotFound'), 'Process not found');
      assert.equal(await errorOf('/v3/apps/no-such/sidecars', 404, 'CF-ResourceNotFound'), 'App not found');
      const bindings = await get('/v3/service_route_bindings?include=service_instance&route_guids=x');
      assert.deepEqual(bindings.resources, []);
      assert.deepEqual(bindings.included, { service_instances: [] });
      await errorOf('/v3/service_route_bindings?include=app', 400, 'CF-BadQueryParameter');
      await errorOf('/v3/service_route_bindings/no-such', 404, 'CF-ResourceNotFound');
    });

    it("an organization's domains (shared ones and its own), its default domain, and route reservations", async () => {
      const domains = await get(`/v3/organizations/${orgGuid}/domains`);
      assert.deepEqual(domains.resources.map((d: { name: string }) => d.name), ['localhost']);
      assert.equal(domains.pagination.first.href.startsWith(`${box.api}/v3/organizations/${orgGuid}/domains?`), true);
      assert.equal((await get(`/v3/organizations/${orgGuid}/domains/default`)).guid, domainGuid);
      assert.equal(await errorOf('/v3/organizations/no-such/domains', 404, 'CF-ResourceNotFound'), 'Organization not found');

      const created = await box.call('POST', '/v3/routes', { host: 'reserved', path: '/p', relationships: { domain: { data: { guid: domainGuid } }, space: { data: { guid: spaceGuid } } } });
      assert.equal(created.status, 201, created.text);
      const reserved = (query: string) => get(`/v3/domains/${domainGuid}/route_reservations?${query}`);
      assert.deepEqual(await reserved('host=reserved&path=/p'), { matching_route: true });
      assert.deepEqual(await reserved('host=reserved'), { matching_route: false }, 'the path is part of the route');
      assert.deepEqual(await reserved('host=nobody'), { matching_route: false });
      assert.deepEqual(await reserved('port=5000'), { matching_route: false }, 'no TCP routes on devbox');
      await errorOf(`/v3/domains/${domainGuid}/route_reservations?hostname=x`, 400, 'CF-BadQueryParameter');
      assert.equal(await errorOf('/v3/domains/no-such/route_reservations?host=x', 404, 'CF-ResourceNotFound'), 'Domain not found');
    });

    it('isolation segments and security groups: none, as cf space shows them', async () => {
      assert.deepEqual(await get(`/v3/spaces/${spaceGuid}/relationships/isolation_segment`), { data: null, links: { self: { href: `${box.api}/v3/spaces/${spaceGuid}/relationships/isolation_segment` } } });
      assert.equal((await get(`/v3/organizations/${orgGuid}/relationships/default_isolation_segment`)).data, null);
      for (const lifecycle of ['running', 'staging']) {
        const groups = await get(`/v3/spaces/${spaceGuid}/${lifecycle}_security_groups`);
        assert.deepEqual(groups.resources, []);
        assert.equal(groups.pagination.total_results, 0);
      }
      assert.equal(await errorOf('/v3/spaces/no-such/running_security_groups', 404, 'CF-ResourceNotFound'), 'Space not found');
    });

    it("a package's droplets, filtered by state (cf start asks for the STAGED one)", async () => {
      const app = (await box.call('POST', '/v3/apps', { name: 'droplet-app', relationships: { space: { data: { guid: spaceGuid } } } })).json();
      const pkg = (await box.call('POST', '/v3/packages', { type: 'bits', relationships: { app: { data: { guid: app.guid } } } })).json();
      const { body, contentType } = uploadBody([], tarball([{ path: 'server.js', content: 'x' }]));
      const uploaded = await request({ url: `${box.api}/v3/packages/${pkg.guid}/upload`, method: 'POST', headers: { authorization: `bearer ${box.token}`, 'content-type': contentType }, body });
      assert.equal(uploaded.status, 200, uploaded.text);
      assert.deepEqual((await get(`/v3/packages/${pkg.guid}/droplets`)).resources, []);
      box.runner.uploadsDroplet(STAGED_RESULT, Buffer.from('droplet bits'));
      const build = (await box.call('POST', '/v3/builds', { package: { guid: pkg.guid } })).json();
      const staged = await finishedBuild(box, build.guid);
      assert.equal(staged.state, 'STAGED', staged.error ?? '');
      const droplets = await get(`/v3/packages/${pkg.guid}/droplets?states=STAGED&per_page=1`);
      assert.deepEqual(droplets.resources.map((d: { guid: string; state: string }) => [d.guid, d.state]), [[staged.droplet!.guid, 'STAGED']]);
      assert.deepEqual((await get(`/v3/packages/${pkg.guid}/droplets?states=FAILED`)).resources, []);
      assert.equal(await errorOf('/v3/packages/no-such/droplets', 404, 'CF-ResourceNotFound'), 'Package not found');
    });

    it('include and fields on the service lists, as cf marketplace, services and service ask', async () => {
      const offerings = await get('/v3/service_offerings?fields[service_broker]=name,guid');
      const brokerGuid = offerings.resources[0].relationships.service_broker.data.guid;
      assert.deepEqual(offerings.included, { service_brokers: [{ name: 'test-broker', guid: brokerGuid }] });
      assert.equal((await get('/v3/service_offerings')).included, undefined, 'nothing asked, nothing included');

      const plans = await get('/v3/service_plans?available=true&include=service_offering&fields[service_offering.service_broker]=name,guid&per_page=5000');
      assert.deepEqual(plans.included.service_offerings.map((o: { name: string }) => o.name), ['test-db']);
      assert.equal(plans.included.service_offerings[0].description, offerings.resources[0].description, 'included whole');
      assert.deepEqual(plans.included.service_brokers, [{ name: 'test-broker', guid: brokerGuid }]);

      const created = await box.call('POST', '/v3/service_instances', { type: 'managed', name: 'db', relationships: { space: { data: { guid: spaceGuid } }, service_plan: { data: { guid: plans.resources.find((p: { name: string }) => p.name === 'tiny').guid } } } });
      assert.equal((await jobIn(box.call, created)).state, 'COMPLETE');
      const instance = (await get('/v3/service_instances?names=db')).resources[0];
      const app = (await box.call('POST', '/v3/apps', { name: 'bound-app', relationships: { space: { data: { guid: spaceGuid } } } })).json();
      const bound = await box.call('POST', '/v3/service_credential_bindings', { type: 'app', relationships: { app: { data: { guid: app.guid } }, service_instance: { data: { guid: instance.guid } } } });
      assert.equal((await jobIn(box.call, bound)).state, 'COMPLETE');

      const listed = await get(
        `/v3/service_instances?fields[service_plan]=guid,name,relationships.service_offering&fields[service_plan.service_offering]=guid,name,relationships.service_broker&fields[service_plan.service_offering.service_broker]=guid,name&fields[space]=name,guid&fields[space.organization]=name,guid&order_by=name&space_guids=${spaceGuid}`,
      );
      const offeringGuid = offerings.resources[0].guid;
      assert.deepEqual(listed.included.service_plans, [{ guid: instance.relationships.service_plan.data.guid, name: 'tiny', relationships: { service_offering: { data: { guid: offeringGuid } } } }]);
      assert.deepEqual(listed.included.service_offerings, [{ guid: offeringGuid, name: 'test-db', relationships: { service_broker: { data: { guid: brokerGuid } } } }]);
      assert.deepEqual(listed.included.service_brokers, [{ guid: brokerGuid, name: 'test-broker' }]);
      assert.deepEqual(listed.included.spaces, [{ name: 'dev', guid: spaceGuid }]);
      assert.deepEqual(listed.included.organizations, [{ name: 'devbox', guid: orgGuid }]);
      const detailed = await get(`/v3/service_instances/${instance.guid}?fields[service_plan.service_offering]=name,guid,description,tags,documentation_url`);
      assert.deepEqual(Object.keys(detailed.included.service_offerings[0]).sort(), ['description', 'documentation_url', 'guid', 'name', 'tags']);

      const bindings = await get(`/v3/service_credential_bindings?include=app&service_instance_guids=${instance.guid}`);
      assert.deepEqual(bindings.included.apps.map((a: { guid: string; name: string }) => [a.guid, a.name]), [[app.guid, 'bound-app']]);
      const shared = await get(`/v3/service_instances/${instance.guid}/relationships/shared_spaces?fields[space]=name,guid`);
      assert.deepEqual(shared.data, []);

      await errorOf('/v3/service_instances?fields[service_plan]=name,password', 400, 'CF-BadQueryParameter');
      await errorOf('/v3/service_instances?fields[nonsense]=name', 400, 'CF-BadQueryParameter');
      const detail = await errorOf('/v3/service_credential_bindings?include=route', 400, 'CF-BadQueryParameter');
      assert.match(detail, /Invalid included resource: 'route'\. Valid included resources are: 'app', 'service_instance'/);
    });
  });
}
