// Roles, users, quotas, orphaned routes and managed service updates, in the test process
// (helpers/controller.ts) on SQLite and MySQL: what cf's create-space, org-users, space-users,
// set-*-role, org, quotas, delete-orphaned-routes and update-service read and write. Shapes,
// statuses and errors as Cloud Controller's v3 reference; test/e2e/cf-cli.test.ts runs the real cf.
import assert from 'node:assert/strict';
import { controllerTestDatabases, startController, type ControllerHarness } from '../../helpers/controller.js';
import { jobIn, startTestBroker } from './helpers.js';

const rel = (name: string, guid: string) => ({ [name]: { data: { guid } } });

for (const database of controllerTestDatabases()) {
  describe(`roles, users, quotas, orphaned routes and service updates (${database.name}, in-process)`, function () {
    this.timeout(30_000);
    let box: ControllerHarness;
    let orgGuid: string;
    let spaceGuid: string;
    let adminGuid: string;

    before(async () => {
      await database.start();
      box = await startController({ database });
      const space = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0];
      spaceGuid = space.guid;
      orgGuid = space.relationships.organization.data.guid;
      adminGuid = (await box.call('GET', '/v3/users?usernames=admin')).json().resources[0].guid;
    });
    after(async () => {
      await box?.stop();
      await database.stop();
    });

    const call = async (method: string, path: string, body?: unknown, status = 200) => {
      const res = await box.call(method, path, body);
      assert.equal(res.status, status, `${method} ${path}: ${res.text}`);
      return res.text ? res.json() : undefined;
    };
    const refused = async (method: string, path: string, body: unknown, status: number, title: string) => {
      const res = await box.call(method, path, body);
      assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json().errors[0].title, title, res.text);
      return res.json().errors[0].detail as string;
    };
    /** A 202's job, polled once: devbox finishes the work before answering. */
    const completed = async (res: { status: number; headers: Record<string, unknown>; text: string }) => {
      assert.equal(res.status, 202, res.text);
      const location = String(res.headers.location);
      assert.ok(location.startsWith(`${box.api}/v3/jobs/`), location);
      const job = await call('GET', location.slice(box.api.length));
      assert.equal(job.state, 'COMPLETE', JSON.stringify(job));
      return job;
    };
    const typesOf = (list: { resources: { type: string }[] }) => list.resources.map((r) => r.type).sort();

    it('GET /v3 links roles, users, quotas and isolation segments, each served', async () => {
      const links = (await call('GET', '/v3')).links as Record<string, { href: string }>;
      for (const name of ['roles', 'users', 'organization_quotas', 'space_quotas', 'isolation_segments']) {
        assert.equal(links[name]?.href, `${box.api}/v3/${name}`, name);
        assert.equal((await box.call('GET', `/v3/${name}`)).status, 200, name);
      }
    });

    describe('users and roles', () => {
      it('seeds the admin with the roles a creator gets: organization_user and manager of devbox, space manager and developer of dev', async () => {
        const org = await call('GET', `/v3/roles?organization_guids=${orgGuid}&include=user`);
        assert.deepEqual(typesOf(org), ['organization_manager', 'organization_user']);
        const [role] = org.resources;
        assert.deepEqual(role.relationships, { user: { data: { guid: adminGuid } }, space: { data: null }, organization: { data: { guid: orgGuid } } });
        assert.equal(role.links.self.href, `${box.api}/v3/roles/${role.guid}`);
        assert.equal(role.links.organization.href, `${box.api}/v3/organizations/${orgGuid}`);
        assert.equal(role.links.user.href, `${box.api}/v3/users/${adminGuid}`);
        assert.deepEqual(org.included.users.map((u: { username: string; presentation_name: string; origin: string }) => [u.username, u.presentation_name, u.origin]), [['admin', 'admin', 'uaa']]);
        const space = await call('GET', `/v3/roles?space_guids=${spaceGuid}`);
        assert.deepEqual(typesOf(space), ['space_developer', 'space_manager']);
        assert.equal(space.included, undefined, 'nothing included unless asked');
        assert.deepEqual(space.resources[0].relationships.organization, { data: null });
        // organization_guids matches organization roles only, as in Cloud Controller.
        assert.equal((await call('GET', `/v3/roles?organization_guids=${orgGuid}&types=space_developer`)).resources.length, 0);
        const one = await call('GET', `/v3/roles/${role.guid}?include=organization,user`);
        assert.equal(one.guid, role.guid);
        assert.deepEqual(one.included.organizations.map((o: { name: string }) => o.name), ['devbox']);
        assert.equal(await refused('GET', '/v3/roles?include=app', undefined, 400, 'CF-BadQueryParameter'), "The query parameter is invalid: Invalid included resource: 'app'. Valid included resources are: 'user', 'organization', 'space'");
        assert.match(await refused('GET', '/v3/roles?types=admin', undefined, 400, 'CF-BadQueryParameter'), /Types must be one of the allowed types/);
        assert.equal(await refused('GET', '/v3/roles/no-such-role', undefined, 404, 'CF-ResourceNotFound'), 'Role not found');
      });

      it('lists users by username and origin; a user is recorded the first time its token is seen', async () => {
        const admin = await call('GET', '/v3/users?usernames=admin&origins=uaa');
        assert.equal(admin.resources.length, 1);
        assert.deepEqual({ ...admin.resources[0], created_at: undefined, updated_at: undefined }, {
          guid: adminGuid,
          created_at: undefined,
          updated_at: undefined,
          username: 'admin',
          presentation_name: 'admin',
          origin: 'uaa',
          metadata: { labels: {}, annotations: {} },
          links: { self: { href: `${box.api}/v3/users/${adminGuid}` } },
        });
        assert.deepEqual(await call('GET', `/v3/users/${adminGuid}`), admin.resources[0]);
        assert.equal((await call('GET', '/v3/users?usernames=admin&origins=ldap')).resources.length, 0);
        assert.equal((await call('GET', '/v3/users?partial_usernames=dmi')).resources.length, 1);
        assert.match(await refused('GET', '/v3/users?origins=uaa', undefined, 400, 'CF-BadQueryParameter'), /Origins filter cannot be provided without usernames/);
        assert.equal(await refused('GET', '/v3/users/nobody', undefined, 404, 'CF-ResourceNotFound'), 'User not found');

        const token = await box.mint({ user_id: 'b0b00000-0000-4000-8000-000000000b0b', sub: 'b0b00000-0000-4000-8000-000000000b0b', user_name: 'bob' });
        const seen = await box.call('GET', '/v3/info', undefined, { authorization: `bearer ${token}` });
        assert.equal(seen.status, 200);
        assert.equal((await call('GET', '/v3/users?usernames=bob')).resources.length, 0, '/v3/info needs no token: nobody was seen');
        assert.equal((await box.call('GET', '/v3/spaces', undefined, { authorization: `bearer ${token}` })).status, 200);
        const bob = (await call('GET', '/v3/users?usernames=bob')).resources;
        assert.deepEqual(bob.map((u: { guid: string; origin: string }) => [u.guid, u.origin]), [['b0b00000-0000-4000-8000-000000000b0b', 'uaa']]);
      });

      it('cf create-space: the creator gets space_manager and space_developer; its organization_user is already there (422 cf takes as done)', async () => {
        const space = await call('POST', '/v3/spaces', { name: 'roles-space', relationships: rel('organization', orgGuid) }, 201);
        const byName = (type: string, target: Record<string, unknown>) => ({ type, relationships: { user: { data: { username: 'admin', origin: 'uaa' } }, ...target } });
        assert.equal(
          await refused('POST', '/v3/roles', byName('organization_user', rel('organization', orgGuid)), 422, 'CF-UnprocessableEntity'),
          "User 'admin' already has 'organization_user' role in organization 'devbox'.",
        );
        const manager = await call('POST', '/v3/roles', byName('space_manager', rel('space', space.guid)), 201);
        assert.equal(manager.type, 'space_manager');
        assert.deepEqual(manager.relationships.space, { data: { guid: space.guid } });
        assert.equal(manager.links.space.href, `${box.api}/v3/spaces/${space.guid}`);
        await call('POST', '/v3/roles', byName('space_developer', rel('space', space.guid)), 201);
        assert.equal(await refused('POST', '/v3/roles', byName('space_developer', rel('space', space.guid)), 422, 'CF-UnprocessableEntity'), "User 'admin' already has 'space_developer' role in space 'roles-space'.");
        assert.deepEqual(typesOf(await call('GET', `/v3/roles?space_guids=${space.guid}&user_guids=${adminGuid}`)), ['space_developer', 'space_manager']);
        const events = (await call('GET', `/v3/audit_events?types=audit.user.space_developer_add&space_guids=${space.guid}`)).resources;
        assert.equal(events.length, 1);
        assert.equal(events[0].target.name, 'admin');
        // Deleting the space takes its roles with it.
        await completed(await box.call('DELETE', `/v3/spaces/${space.guid}`));
        assert.equal((await call('GET', `/v3/roles?space_guids=${space.guid}`)).resources.length, 0);
      });

      it('a space role needs a role in the organization; organization_user cannot go while space roles remain', async () => {
        const bob = (await call('GET', '/v3/users?usernames=bob')).resources[0].guid as string;
        const notMember = "Users cannot be assigned roles in a space if they do not have a role in that space's organization.";
        const spaceRole = { type: 'space_auditor', relationships: { user: { data: { guid: bob } }, ...rel('space', spaceGuid) } };
        assert.equal(await refused('POST', '/v3/roles', spaceRole, 422, 'CF-UnprocessableEntity'), notMember);
        assert.equal(await refused('POST', '/v3/roles', { ...spaceRole, relationships: { user: { data: { username: 'carol' } }, ...rel('space', spaceGuid) } }, 422, 'CF-UnprocessableEntity'), notMember);
        const orgUser = await call('POST', '/v3/roles', { type: 'organization_user', relationships: { user: { data: { username: 'bob' } }, ...rel('organization', orgGuid) } }, 201);
        const auditor = await call('POST', '/v3/roles', spaceRole, 201);
        assert.equal(await refused('DELETE', `/v3/roles/${orgUser.guid}`, undefined, 422, 'CF-UnprocessableEntity'), 'Cannot delete organization_user role while user has roles in spaces in that organization.');
        const job = await completed(await box.call('DELETE', `/v3/roles/${auditor.guid}`));
        assert.equal(job.operation, 'role.delete');
        assert.equal(await refused('GET', `/v3/roles/${auditor.guid}`, undefined, 404, 'CF-ResourceNotFound'), 'Role not found');
        await completed(await box.call('DELETE', `/v3/roles/${orgUser.guid}`));
        assert.equal((await call('GET', `/v3/roles?user_guids=${bob}`)).resources.length, 0);
        assert.equal((await call('GET', `/v3/audit_events?types=audit.user.space_auditor_remove`)).resources.length, 1);
      });

      it('an organization role for a user devbox has not seen by guid records it; by an unknown username it is 422', async () => {
        const role = await call('POST', '/v3/roles', { type: 'organization_auditor', relationships: { user: { data: { guid: 'some-client' } }, ...rel('organization', orgGuid) } }, 201);
        const user = await call('GET', '/v3/users/some-client');
        assert.equal(user.username, null);
        assert.equal(user.presentation_name, 'some-client');
        assert.equal(await refused('POST', '/v3/roles', { type: 'organization_auditor', relationships: { user: { data: { username: 'nobody', origin: 'uaa' } }, ...rel('organization', orgGuid) } }, 422, 'CF-UnprocessableEntity'), "No user exists with the username 'nobody' and origin 'uaa'.");
        assert.equal(await refused('POST', '/v3/roles', { type: 'organization_auditor', relationships: { user: { data: { username: 'nobody' } }, ...rel('organization', orgGuid) } }, 422, 'CF-UnprocessableEntity'), "No user exists with the username 'nobody'.");
        await completed(await box.call('DELETE', `/v3/roles/${role.guid}`));
      });

      it('refuses malformed role requests as Cloud Controller does, creating nothing', async () => {
        const before = (await call('GET', '/v3/roles')).pagination.total_results;
        const user = { user: { data: { guid: adminGuid } } };
        const cases: [unknown, RegExp][] = [
          [{ type: 'admin', relationships: { ...user, ...rel('organization', orgGuid) } }, /^Type must be one of the allowed types \["organization_auditor"/],
          [{ type: 'space_developer', relationships: user }, /^Relationships must specify either a space or an organization\.$/],
          [{ type: 'space_developer', relationships: { ...user, ...rel('organization', orgGuid), ...rel('space', spaceGuid) } }, /^Relationships cannot specify both an organization and a space\.$/],
          [{ type: 'space_developer', relationships: { ...user, ...rel('organization', orgGuid) } }, /organization cannot be provided with the space role type: 'space_developer'/],
          [{ type: 'organization_user', relationships: { ...user, ...rel('space', spaceGuid) } }, /space cannot be provided with the organization role type: 'organization_user'/],
          [{ type: 'organization_user', relationships: { user: { data: { guid: adminGuid, username: 'admin' } }, ...rel('organization', orgGuid) } }, /username cannot be specified when identifying user by guid/],
          [{ type: 'organization_user', relationships: { user: { data: { origin: 'uaa' } }, ...rel('organization', orgGuid) } }, /origin cannot be specified without specifying the username/],
          [{ type: 'organization_user', relationships: { user: {}, ...rel('organization', orgGuid) } }, /must have a username or guid specified/],
          [{ type: 'organization_user', relationships: { ...user, ...rel('organization', orgGuid) }, extra: 1 }, /^Unknown field\(s\): 'extra'$/],
          [{ type: 'organization_user', relationships: { ...user, ...rel('organization', 'no-such-org') } }, /^Invalid organization\. Ensure that the organization exists and you have access to it\.$/],
          [{ type: 'space_developer', relationships: { ...user, ...rel('space', 'no-such-space') } }, /^Invalid space\. Ensure that the space exists and you have access to it\.$/],
        ];
        for (const [body, detail] of cases) assert.match(await refused('POST', '/v3/roles', body, 422, 'CF-UnprocessableEntity'), detail);
        assert.equal((await call('GET', '/v3/roles')).pagination.total_results, before);
      });
    });

    describe('quotas and isolation segments', () => {
      it('every organization has the default quota, every limit unlimited (null)', async () => {
        const org = await call('GET', `/v3/organizations/${orgGuid}`);
        const quotaGuid = org.relationships.quota.data.guid as string;
        const quota = await call('GET', `/v3/organization_quotas/${quotaGuid}`);
        assert.equal(quota.name, 'default');
        assert.deepEqual(quota.apps, { total_memory_in_mb: null, per_process_memory_in_mb: null, log_rate_limit_in_bytes_per_second: null, total_instances: null, per_app_tasks: null });
        assert.deepEqual(quota.services, { paid_services_allowed: true, total_service_instances: null, total_service_keys: null });
        assert.deepEqual(quota.routes, { total_routes: null, total_reserved_ports: null });
        assert.deepEqual(quota.domains, { total_domains: null });
        assert.ok(quota.relationships.organizations.data.some((o: { guid: string }) => o.guid === orgGuid));
        assert.equal(quota.links.self.href, `${box.api}/v3/organization_quotas/${quotaGuid}`);
        assert.deepEqual((await call('GET', '/v3/organization_quotas')).resources, [quota]);
        assert.deepEqual((await call('GET', `/v3/organization_quotas?organization_guids=${orgGuid}`)).resources, [quota]);
        assert.deepEqual((await call('GET', '/v3/organization_quotas?names=default')).resources, [quota]);
        assert.equal((await call('GET', '/v3/organization_quotas?organization_guids=no-such-org')).resources.length, 0);
        assert.equal((await call('GET', '/v3/organization_quotas?names=other')).resources.length, 0);
        assert.equal(await refused('GET', '/v3/organization_quotas/no-such-quota', undefined, 404, 'CF-ResourceNotFound'), 'Organization quota not found');
        // A new organization has it too.
        const other = await call('POST', '/v3/organizations', { name: 'quota-org' }, 201);
        assert.equal(other.relationships.quota.data.guid, quotaGuid);
        assert.ok((await call('GET', `/v3/organization_quotas/${quotaGuid}`)).relationships.organizations.data.some((o: { guid: string }) => o.guid === other.guid));
      });

      it('space quotas and isolation segments are empty lists; one by guid is 404', async () => {
        assert.equal((await call('GET', `/v3/space_quotas?organization_guids=${orgGuid}`)).pagination.total_results, 0);
        assert.equal(await refused('GET', '/v3/space_quotas/x', undefined, 404, 'CF-ResourceNotFound'), 'Space quota not found');
        assert.equal((await call('GET', `/v3/isolation_segments?organization_guids=${orgGuid}`)).pagination.total_results, 0);
        assert.equal(await refused('GET', '/v3/isolation_segments/x', undefined, 404, 'CF-ResourceNotFound'), 'Isolation segment not found');
      });
    });

    describe('cf delete-orphaned-routes: DELETE /v3/spaces/:guid/routes?unmapped=true', () => {
      it('deletes the space\'s routes mapped to no app, as a job; mapped routes and other spaces\' stay, no DEA is told', async () => {
        const domain = (await call('GET', '/v3/domains?names=localhost')).resources[0].guid as string;
        const route = async (host: string, space = spaceGuid) => (await call('POST', '/v3/routes', { host, relationships: { ...rel('domain', domain), ...rel('space', space) } }, 201)).guid as string;
        const app = await call('POST', '/v3/apps', { name: 'orphans-app', relationships: rel('space', spaceGuid) }, 201);
        const mapped = await route('orphans-mapped');
        await call('POST', `/v3/routes/${mapped}/destinations`, { destinations: [{ app: { guid: app.guid } }] });
        const orphans = [await route('orphan-one'), await route('orphan-two')];
        const otherSpace = await call('POST', '/v3/spaces', { name: 'orphans-other', relationships: rel('organization', orgGuid) }, 201);
        const elsewhere = await route('orphan-elsewhere', otherSpace.guid);
        box.runner.clear();

        const path = `/v3/spaces/${spaceGuid}/routes`;
        assert.equal(await refused('DELETE', path, undefined, 422, 'CF-UnprocessableEntity'), "Mass delete not supported for routes. Use 'unmapped=true' parameter to delete all unmapped routes.");
        assert.equal(await refused('DELETE', `${path}?unmapped=false`, undefined, 422, 'CF-UnprocessableEntity'), "Mass delete not supported for mapped routes. Use 'unmapped=true' parameter to delete all unmapped routes.");
        assert.equal(await refused('DELETE', `${path}?unmapped=yes`, undefined, 422, 'CF-UnprocessableEntity'), 'Unmapped must be a boolean');
        assert.match(await refused('DELETE', `${path}?unmapped=true&hosts=x`, undefined, 422, 'CF-UnprocessableEntity'), /^Unknown query parameter\(s\): 'hosts'/);
        assert.equal(await refused('DELETE', '/v3/spaces/no-such-space/routes?unmapped=true', undefined, 404, 'CF-ResourceNotFound'), 'Space not found');
        for (const guid of [...orphans, mapped]) await call('GET', `/v3/routes/${guid}`);

        const job = await completed(await box.call('DELETE', `${path}?unmapped=true`));
        assert.equal(job.operation, 'space.delete_unmapped_routes');
        for (const guid of orphans) assert.equal((await box.call('GET', `/v3/routes/${guid}`)).status, 404);
        await call('GET', `/v3/routes/${mapped}`);
        await call('GET', `/v3/routes/${elsewhere}`);
        assert.deepEqual(box.runner.calls, [], 'no app lost a route');
        assert.equal((await call('GET', `/v3/audit_events?types=audit.route.delete-request&target_guids=${orphans.join(',')}`)).resources.length, 2);
        // Nothing left to delete: still a complete job.
        await completed(await box.call('DELETE', `${path}?unmapped=true`));
        await call('GET', `/v3/routes/${mapped}`);
      });
    });

    describe('updating a managed instance: its broker changes plan and parameters', () => {
      const broker = startTestBroker('broker-user', 'broker-s3cret', { planUpdateable: true });
      let tiny: string;
      let big: string;
      let instance: string;
      before(async () => {
        const url = `http://127.0.0.1:${await broker.listen()}`;
        assert.equal((await jobIn(box.call, await box.call('POST', '/v3/service_brokers', { name: 'update-broker', url, authentication: { type: 'basic', credentials: { username: 'broker-user', password: 'broker-s3cret' } } }))).state, 'COMPLETE');
        const brokerGuid = (await call('GET', '/v3/service_brokers?names=update-broker')).resources[0].guid as string;
        const plan = async (name: string) => (await call('GET', `/v3/service_plans?names=${name}&service_broker_guids=${brokerGuid}`)).resources[0].guid as string;
        tiny = await plan('tiny');
        big = await plan('big');
        const created = await box.call('POST', '/v3/service_instances', { type: 'managed', name: 'updatable', relationships: { ...rel('space', spaceGuid), ...rel('service_plan', tiny) } });
        assert.equal((await jobIn(box.call, created)).state, 'COMPLETE');
        instance = (await call('GET', '/v3/service_instances?names=updatable')).resources[0].guid;
      });
      after(() => broker.close());
      const patches = () => broker.seen.filter((s) => s.method === 'PATCH');

      it('a plan change is the broker\'s PATCH (with previous values and context), answered 202 with its job, which completes', async () => {
        const res = await box.call('PATCH', `/v3/service_instances/${instance}`, { relationships: rel('service_plan', big) });
        const job = await jobIn(box.call, res);
        assert.equal(job.state, 'COMPLETE');
        assert.equal(job.operation, 'service_instance.update');
        const [sent] = patches();
        assert.equal(sent.path, `/v2/service_instances/${instance}`);
        assert.equal(sent.body.service_id, 'svc-1');
        assert.equal(sent.body.plan_id, 'plan-big');
        assert.deepEqual(sent.body.previous_values, { service_id: 'svc-1', plan_id: 'plan-tiny', organization_id: orgGuid, space_id: spaceGuid });
        assert.equal((sent.body.context as { instance_name: string }).instance_name, 'updatable');
        const updated = await call('GET', `/v3/service_instances/${instance}`);
        assert.equal(updated.relationships.service_plan.data.guid, big);
        assert.deepEqual([updated.last_operation.type, updated.last_operation.state], ['update', 'succeeded']);
        assert.equal(updated.dashboard_url, `http://dash.example/${instance}/updated`);
      });

      it('parameters go to the broker (hidden in the audit event); an asynchronous broker is polled to its end', async () => {
        broker.modes.update = 'async';
        try {
          assert.equal((await jobIn(box.call, await box.call('PATCH', `/v3/service_instances/${instance}`, { parameters: { size: 'xl' } }))).state, 'COMPLETE');
        } finally {
          broker.modes.update = 'ok';
        }
        const sent = patches().at(-1)!;
        assert.deepEqual(sent.body.parameters, { size: 'xl' });
        assert.equal(sent.body.plan_id, 'plan-big', 'the current plan');
        assert.ok(broker.seen.some((s) => s.method === 'GET' && s.path === `/v2/service_instances/${instance}/last_operation`), 'polled');
        const event = (await call('GET', `/v3/audit_events?types=audit.service_instance.update&target_guids=${instance}`)).resources.at(-1);
        assert.equal(event.data.request.parameters, '[PRIVATE DATA HIDDEN]');
        // A rename alone is no broker's business: 200 with the instance, as before.
        const renamed = await call('PATCH', `/v3/service_instances/${instance}`, { name: 'updatable-2' });
        assert.equal(renamed.name, 'updatable-2');
        assert.equal(patches().length, 2);
      });

      it('a broker that refuses fails the job with its error and leaves the plan; the last operation says update failed', async () => {
        broker.modes.update = '400';
        try {
          const job = await jobIn(box.call, await box.call('PATCH', `/v3/service_instances/${instance}`, { relationships: rel('service_plan', tiny) }));
          assert.equal(job.state, 'FAILED');
          assert.match(job.errors[0].detail, /plan says no/);
        } finally {
          broker.modes.update = 'ok';
        }
        const after = await call('GET', `/v3/service_instances/${instance}`);
        assert.equal(after.relationships.service_plan.data.guid, big);
        assert.deepEqual([after.last_operation.type, after.last_operation.state], ['update', 'failed']);
        assert.match(after.last_operation.description, /plan says no/);
      });

      it('refuses what Cloud Controller refuses, without asking the broker', async () => {
        const asked = patches().length;
        const path = `/v3/service_instances/${instance}`;
        assert.equal(await refused('PATCH', path, { relationships: rel('service_plan', 'no-such-plan') }, 422, 'CF-UnprocessableEntity'), 'Invalid service plan. Ensure that the service plan exists, is available, and you have access to it.');
        assert.equal(await refused('PATCH', path, { maintenance_info: { version: '2.0.0' } }, 422, 'CF-UnprocessableEntity'), 'The service broker does not support upgrades for service instances created from this plan.');
        assert.equal(await refused('PATCH', path, { relationships: rel('service_plan', tiny), maintenance_info: { version: '2.0.0' } }, 422, 'CF-UnprocessableEntity'), 'maintenance_info should not be changed when switching to different plan.');
        assert.equal(await refused('PATCH', path, { maintenance_info: { version: 'two' } }, 422, 'CF-UnprocessableEntity'), 'Maintenance info version must be a Semantic Version string');
        assert.equal(await refused('PATCH', path, { maintenance_info: 'latest' }, 422, 'CF-UnprocessableEntity'), 'Maintenance info must be an object');
        assert.equal(await refused('PATCH', path, { credentials: { a: 1 } }, 422, 'CF-UnprocessableEntity'), 'Credentials, syslog drain url and route service url can be updated only for user-provided service instances.');
        assert.equal(patches().length, asked, 'the broker was not asked');
      });
    });
  });
}
