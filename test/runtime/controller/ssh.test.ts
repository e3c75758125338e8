// The controller's side of ssh (docs/ssh.md), in the test process (helpers/controller.ts), on
// SQLite and on MySQL: the app features ssh and revisions, the space feature ssh, ssh_enabled with
// Cloud Controller's reasons, who may change them (Cloud Controller's roles), the ssh proxy's
// question `/internal/apps/:guid/ssh_access/:index` with its answers and audit events, the
// `app_ssh` link of `GET /` from an `ssh.advertise` heard on a real bus, and migration 0012 on rows
// that existed before it.
import assert from 'node:assert/strict';
import { Migrator, sql } from 'kysely';
import { BusServer } from '../../../src/runtime/bus/server.js';
import { connectBus, publish, respond, subscribe, type NatsConnection } from '../../../src/runtime/common/bus.js';
import { sshAdvertise, sshDiscover, type SshAdvertisement } from '../../../src/runtime/common/bus-messages.js';
import { waitFor } from '../../../src/runtime/common/poll.js';
import { newProcess } from '../../../src/runtime/controller/actions/apps.js';
import { now } from '../../../src/runtime/controller/context.js';
import { followSshProxies } from '../../../src/runtime/controller/controllers/bus.js';
import { IN_MEMORY, openDatabase } from '../../../src/runtime/controller/db/index.js';
import { migrations } from '../../../src/runtime/controller/db/migrations.js';
import { insertProcess } from '../../../src/runtime/controller/repositories/apps.js';
import { SshProxies } from '../../../src/runtime/controller/ssh-proxies.js';
import { controllerTestDatabases, startController, type ControllerHarness } from '../../helpers/controller.js';

type Answer = { status: number; text: string; json(): { errors: { title: string; detail: string }[] } };

/** The users of the tests besides the admin, each with one role (none for the stranger). */
const USERS = {
  developer: { guid: '5500d000-0000-4000-8000-000000000001', role: 'space_developer' },
  auditor: { guid: '5500d000-0000-4000-8000-000000000002', role: 'space_auditor' },
  manager: { guid: '5500d000-0000-4000-8000-000000000003', role: 'space_manager' },
  supporter: { guid: '5500d000-0000-4000-8000-000000000004', role: 'space_supporter' },
  orgManager: { guid: '5500d000-0000-4000-8000-000000000005', role: 'organization_manager' },
  stranger: { guid: '5500d000-0000-4000-8000-000000000006', role: undefined },
} as const;
type User = keyof typeof USERS;

for (const database of controllerTestDatabases()) {
  describe(`controller: ssh (${database.name}, in-process)`, function () {
    this.timeout(30_000);
    let box: ControllerHarness;
    let spaceGuid: string;
    let orgGuid: string;
    const tokens = {} as Record<User, string>;

    before(async () => {
      await database.start();
      box = await startController({ database });
      const space = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0];
      spaceGuid = space.guid;
      orgGuid = space.relationships.organization.data.guid;
      for (const [name, user] of Object.entries(USERS) as [User, (typeof USERS)[User]][]) {
        // A user's token, as uaa gives one to a user who is no admin.
        tokens[name] = await box.mint({ sub: user.guid, user_id: user.guid, user_name: name, scope: ['openid', 'cloud_controller.read', 'cloud_controller.write'] });
        const seen = await as(name, 'GET', '/v3/spaces');
        assert.equal(seen.status, 200, seen.text);
        if (!user.role) continue;
        const roleOf = (type: string, scope: 'organization' | 'space', guid: string) => ({ type, relationships: { user: { data: { guid: user.guid } }, [scope]: { data: { guid } } } });
        assert.equal((await box.call('POST', '/v3/roles', roleOf('organization_user', 'organization', orgGuid))).status, 201);
        const role = user.role === 'organization_manager' ? roleOf(user.role, 'organization', orgGuid) : roleOf(user.role, 'space', spaceGuid);
        const created = await box.call('POST', '/v3/roles', role);
        assert.equal(created.status, 201, created.text);
      }
    });
    after(async () => {
      await box?.stop();
      await database.stop();
    });

    const as = (user: User, method: string, path: string, body?: unknown) => box.call(method, path, body, { authorization: `bearer ${tokens[user]}` });
    const createApp = async (name: string, space = spaceGuid) => {
      const res = await box.call('POST', '/v3/apps', { name, relationships: { space: { data: { guid: space } } } });
      assert.equal(res.status, 201, res.text);
      return res.json() as { guid: string; name: string };
    };
    const createSpace = async (name: string) => {
      const res = await box.call('POST', '/v3/spaces', { name, relationships: { organization: { data: { guid: orgGuid } } } });
      assert.equal(res.status, 201, res.text);
      return res.json() as { guid: string; name: string };
    };
    /** A CF error: its status, title, and the detail returned. */
    const refused = async (answer: Promise<Answer> | Answer, status: number, title: string): Promise<string> => {
      const res = await answer;
      assert.equal(res.status, status, res.text);
      assert.equal(res.json().errors[0].title, title, res.text);
      return res.json().errors[0].detail;
    };
    const patchApp = (appGuid: string, name: string, body: unknown, user?: User) => (user ? as(user, 'PATCH', `/v3/apps/${appGuid}/features/${name}`, body) : box.call('PATCH', `/v3/apps/${appGuid}/features/${name}`, body));
    const patchSpace = (guid: string, body: unknown, user?: User) => (user ? as(user, 'PATCH', `/v3/spaces/${guid}/features/ssh`, body) : box.call('PATCH', `/v3/spaces/${guid}/features/ssh`, body));
    const sshEnabled = async (appGuid: string) => (await box.call('GET', `/v3/apps/${appGuid}/ssh_enabled`)).json();
    const sshAccess = (processGuid: string, index: string | number, user?: User) => (user ? as(user, 'GET', `/internal/apps/${processGuid}/ssh_access/${index}`) : box.call('GET', `/internal/apps/${processGuid}/ssh_access/${index}`));
    const events = async (appGuid: string) =>
      (await box.call('GET', `/v3/audit_events?target_guids=${appGuid}&types=audit.app.ssh-authorized,audit.app.ssh-unauthorized&order_by=created_at`)).json().resources as {
        type: string;
        actor: { guid: string; name: string };
        target: { guid: string; type: string; name: string };
        data: Record<string, unknown>;
        space: { guid: string };
        organization: { guid: string };
      }[];

    describe('app features', () => {
      it('a new app has ssh on and revisions off; the list is one page of both, as Cloud Controller renders it', async () => {
        const app = await createApp('features-list');
        const list = (await box.call('GET', `/v3/apps/${app.guid}/features`)).json();
        const href = `${box.api}/v3/apps/${app.guid}/features`;
        assert.deepEqual(list, {
          resources: [
            { name: 'ssh', description: 'Enable SSHing into the app.', enabled: true },
            { name: 'revisions', description: 'Enable versioning of an application', enabled: false },
          ],
          pagination: { total_results: 2, total_pages: 1, first: { href }, last: { href }, next: null, previous: null },
        });
        assert.deepEqual((await box.call('GET', `/v3/apps/${app.guid}/features/ssh`)).json(), list.resources[0]);
        assert.deepEqual((await box.call('GET', `/v3/apps/${app.guid}/features/revisions`)).json(), list.resources[1]);
        assert.equal(await refused(box.call('GET', `/v3/apps/${app.guid}/features/service-binding-k8s`), 404, 'CF-ResourceNotFound'), 'Feature not found');
        const unknown = '00000000-0000-4000-8000-000000000000';
        for (const path of ['/features', '/features/ssh', '/ssh_enabled']) assert.equal(await refused(box.call('GET', `/v3/apps/${unknown}${path}`), 404, 'CF-ResourceNotFound'), 'App not found');
        assert.equal(await refused(patchApp(unknown, 'ssh', { enabled: true }), 404, 'CF-ResourceNotFound'), 'App not found');
      });

      it('PATCH sets one feature and answers it; the other stays', async () => {
        const app = await createApp('features-patch');
        const off = await patchApp(app.guid, 'ssh', { enabled: false });
        assert.equal(off.status, 200, off.text);
        assert.deepEqual(off.json(), { name: 'ssh', description: 'Enable SSHing into the app.', enabled: false });
        const on = await patchApp(app.guid, 'revisions', { enabled: true });
        assert.deepEqual(on.json(), { name: 'revisions', description: 'Enable versioning of an application', enabled: true });
        assert.deepEqual((await box.call('GET', `/v3/apps/${app.guid}/features`)).json().resources.map((f: { enabled: boolean }) => f.enabled), [false, true]);
        assert.equal((await patchApp(app.guid, 'ssh', { enabled: true })).json().enabled, true);
        assert.equal((await patchApp(app.guid, 'ssh', { enabled: true })).json().enabled, true, 'again: the same answer');
        assert.equal(await refused(patchApp(app.guid, 'nope', { enabled: true }), 404, 'CF-ResourceNotFound'), 'Feature not found');
      });

      it("bad bodies get Cloud Controller's 400 and 422, every problem in one detail, and change nothing", async () => {
        const app = await createApp('features-bad');
        for (const text of ['[]', '"on"', '42', 'null']) assert.match(await refused(patchApp(app.guid, 'ssh', text), 400, 'CF-MessageParseError'), /must be a JSON object/, text);
        assert.match(await refused(patchApp(app.guid, 'ssh', '{"enabled":'), 400, 'CF-MessageParseError'), /^Request invalid due to parse error/);
        const cases: [unknown, string][] = [
          [{}, 'Enabled must be a boolean'],
          [{ enabled: 'false' }, 'Enabled must be a boolean'],
          [{ enabled: 0 }, 'Enabled must be a boolean'],
          [{ enabled: null }, 'Enabled must be a boolean'],
          [{ enabled: false, name: 'ssh' }, "Unknown field(s): 'name'"],
          [{ on: true, why: 1 }, "Unknown field(s): 'on', 'why', Enabled must be a boolean"],
        ];
        for (const [body, detail] of cases) {
          assert.equal(await refused(patchApp(app.guid, 'ssh', body), 422, 'CF-UnprocessableEntity'), detail, JSON.stringify(body));
          assert.equal(await refused(patchSpace(spaceGuid, body), 422, 'CF-UnprocessableEntity'), detail, `space: ${JSON.stringify(body)}`);
        }
        assert.equal((await box.call('GET', `/v3/apps/${app.guid}/features/ssh`)).json().enabled, true);
        assert.equal((await box.call('GET', `/v3/spaces/${spaceGuid}/features/ssh`)).json().enabled, true);
      });

      it("who may change them is Cloud Controller's rule: ssh a space developer, revisions also a space supporter; anyone reads", async () => {
        const app = await createApp('features-roles');
        for (const user of ['auditor', 'manager', 'supporter', 'orgManager', 'stranger'] as const) {
          assert.equal(await refused(patchApp(app.guid, 'ssh', { enabled: false }, user), 403, 'CF-NotAuthorized'), 'You are not authorized to perform the requested action', user);
          assert.equal((await as(user, 'GET', `/v3/apps/${app.guid}/features/ssh`)).json().enabled, true, `${user} reads it`);
          assert.equal((await as(user, 'GET', `/v3/apps/${app.guid}/ssh_enabled`)).status, 200, user);
        }
        assert.equal((await patchApp(app.guid, 'ssh', { enabled: false }, 'developer')).json().enabled, false);
        assert.equal((await patchApp(app.guid, 'revisions', { enabled: true }, 'supporter')).json().enabled, true);
        assert.equal((await patchApp(app.guid, 'revisions', { enabled: false }, 'developer')).json().enabled, false);
        for (const user of ['auditor', 'manager', 'stranger'] as const) await refused(patchApp(app.guid, 'revisions', { enabled: true }, user), 403, 'CF-NotAuthorized');
        // An unknown feature is 404 before the role is asked, as Cloud Controller.
        await refused(patchApp(app.guid, 'nope', { enabled: true }, 'stranger'), 404, 'CF-ResourceNotFound');
        // A role in another space is no role in this one.
        const other = await createSpace('features-other');
        const elsewhere = await createApp('features-elsewhere', other.guid);
        await refused(patchApp(elsewhere.guid, 'ssh', { enabled: false }, 'developer'), 403, 'CF-NotAuthorized');
        assert.equal((await patchApp(elsewhere.guid, 'ssh', { enabled: false })).json().enabled, false, 'the admin may');
      });
    });

    describe('space feature ssh', () => {
      it('is on for a new space; GET one, the list, 404 for another name or space', async () => {
        const space = await createSpace('space-features');
        const ssh = { name: 'ssh', description: 'Enable SSHing into apps in the space.', enabled: true };
        assert.deepEqual((await box.call('GET', `/v3/spaces/${space.guid}/features/ssh`)).json(), ssh);
        assert.deepEqual((await box.call('GET', `/v3/spaces/${space.guid}/features`)).json(), { resources: [ssh] });
        assert.equal(await refused(box.call('GET', `/v3/spaces/${space.guid}/features/revisions`), 404, 'CF-ResourceNotFound'), 'Feature not found');
        assert.equal(await refused(box.call('PATCH', `/v3/spaces/${space.guid}/features/other`, { enabled: false }), 404, 'CF-ResourceNotFound'), 'Feature not found');
        const unknown = '00000000-0000-4000-8000-000000000000';
        assert.equal(await refused(box.call('GET', `/v3/spaces/${unknown}/features/ssh`), 404, 'CF-ResourceNotFound'), 'Space not found');
        assert.equal(await refused(patchSpace(unknown, { enabled: true }), 404, 'CF-ResourceNotFound'), 'Space not found');
        assert.equal((await patchSpace(space.guid, { enabled: true })).json().enabled, true);
      });

      it("who may change it is Cloud Controller's rule: a space manager or an org manager (not a developer); anyone reads", async () => {
        for (const user of ['developer', 'auditor', 'supporter', 'stranger'] as const) {
          assert.equal(await refused(patchSpace(spaceGuid, { enabled: false }, user), 403, 'CF-NotAuthorized'), 'You are not authorized to perform the requested action', user);
          assert.equal((await as(user, 'GET', `/v3/spaces/${spaceGuid}/features/ssh`)).json().enabled, true, user);
        }
        assert.equal((await patchSpace(spaceGuid, { enabled: false }, 'manager')).json().enabled, false);
        assert.equal((await patchSpace(spaceGuid, { enabled: true }, 'orgManager')).json().enabled, true);
        assert.equal((await patchSpace(spaceGuid, { enabled: false })).json().enabled, false, 'the admin may');
        assert.equal((await patchSpace(spaceGuid, { enabled: true })).json().enabled, true);
      });
    });

    describe('ssh_enabled', () => {
      it("says why not with Cloud Controller's reasons: the space's first, then the app's", async () => {
        const space = await createSpace('ssh-enabled-space');
        const app = await createApp('ssh-enabled', space.guid);
        assert.deepEqual(await sshEnabled(app.guid), { enabled: true, reason: '' });
        await patchApp(app.guid, 'ssh', { enabled: false });
        assert.deepEqual(await sshEnabled(app.guid), { enabled: false, reason: 'ssh is disabled for app' });
        await patchSpace(space.guid, { enabled: false });
        assert.deepEqual(await sshEnabled(app.guid), { enabled: false, reason: "ssh is disabled for space 'ssh-enabled-space'" });
        await patchApp(app.guid, 'ssh', { enabled: true });
        assert.deepEqual(await sshEnabled(app.guid), { enabled: false, reason: "ssh is disabled for space 'ssh-enabled-space'" });
        await patchSpace(space.guid, { enabled: true });
        assert.deepEqual(await sshEnabled(app.guid), { enabled: true, reason: '' });
      });
    });

    describe('ssh_access (the ssh proxy asks with the user\'s token)', () => {
      it('answers the process, its app and version and the index to an admin and a space developer, each recorded as audit.app.ssh-authorized', async () => {
        const app = await createApp('access-ok');
        const process = (await box.call('GET', `/v3/apps/${app.guid}/processes/web`)).json();
        const admin = await sshAccess(process.guid, 0);
        assert.equal(admin.status, 200, admin.text);
        assert.deepEqual(admin.json(), { process_guid: process.guid, app_guid: app.guid, version: process.version, index: 0 });
        const developer = await sshAccess(process.guid, 3, 'developer');
        assert.equal(developer.status, 200, developer.text);
        assert.deepEqual(developer.json(), { process_guid: process.guid, app_guid: app.guid, version: process.version, index: 3 });
        const recorded = await events(app.guid);
        assert.deepEqual(recorded.map((e) => [e.type, e.actor.name, e.data]), [
          ['audit.app.ssh-authorized', 'admin', { index: 0 }],
          ['audit.app.ssh-authorized', 'developer', { index: 3 }],
        ]);
        assert.equal(recorded[1].actor.guid, USERS.developer.guid);
        assert.deepEqual(recorded[1].target, { guid: app.guid, type: 'app', name: 'access-ok' });
        assert.equal(recorded[1].space.guid, spaceGuid);
        assert.equal(recorded[1].organization.guid, orgGuid);
      });

      it("a process of another type: its own guid and version, the event on its app", async () => {
        const app = await createApp('access-worker');
        const worker = newProcess(box.context, app.guid, 'worker', now());
        await insertProcess(box.db, worker);
        const res = await sshAccess(worker.guid, 1, 'developer');
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.json(), { process_guid: worker.guid, app_guid: app.guid, version: worker.version, index: 1 });
        assert.deepEqual((await events(app.guid)).map((e) => [e.type, e.target.guid, e.data]), [['audit.app.ssh-authorized', app.guid, { index: 1 }]]);
      });

      it('refuses who may not update the process with 403, recorded as audit.app.ssh-unauthorized', async () => {
        const app = await createApp('access-roles');
        for (const user of ['auditor', 'manager', 'supporter', 'orgManager', 'stranger'] as const) {
          assert.equal(await refused(sshAccess(app.guid, 0, user), 403, 'CF-NotAuthorized'), 'You are not authorized to perform the requested action', user);
        }
        const recorded = await events(app.guid);
        assert.deepEqual(recorded.map((e) => [e.type, e.actor.guid, e.data]), (['auditor', 'manager', 'supporter', 'orgManager', 'stranger'] as const).map((u) => ['audit.app.ssh-unauthorized', USERS[u].guid, { index: 0 }]));
      });

      it('refuses with 400 CF-InvalidRequest while ssh is off for the app or its space, recorded; on again, allowed', async () => {
        const space = await createSpace('access-off');
        const app = await createApp('access-off', space.guid);
        await patchApp(app.guid, 'ssh', { enabled: false });
        assert.equal(await refused(sshAccess(app.guid, 0), 400, 'CF-InvalidRequest'), 'The request is invalid');
        await patchApp(app.guid, 'ssh', { enabled: true });
        await patchSpace(space.guid, { enabled: false });
        assert.equal(await refused(sshAccess(app.guid, 1), 400, 'CF-InvalidRequest'), 'The request is invalid');
        await patchSpace(space.guid, { enabled: true });
        assert.equal((await sshAccess(app.guid, 2)).status, 200);
        assert.deepEqual((await events(app.guid)).map((e) => [e.type, e.data]), [
          ['audit.app.ssh-unauthorized', { index: 0 }],
          ['audit.app.ssh-unauthorized', { index: 1 }],
          ['audit.app.ssh-authorized', { index: 2 }],
        ]);
      });

      it('an unknown process is 404 with no event; an index that is no number is 400, recorded as given', async () => {
        assert.equal(await refused(sshAccess('00000000-0000-4000-8000-000000000000', 0), 404, 'CF-ResourceNotFound'), 'App not found');
        assert.equal(await refused(sshAccess('00000000-0000-4000-8000-000000000000', 0, 'stranger'), 404, 'CF-ResourceNotFound'), 'App not found');
        const app = await createApp('access-index');
        assert.match(await refused(sshAccess(app.guid, 'one'), 400, 'CF-InvalidRequest'), /^The request is invalid: the instance index must be a number, not 'one'$/);
        await refused(sshAccess(app.guid, -1), 400, 'CF-InvalidRequest');
        assert.deepEqual((await events(app.guid)).map((e) => [e.type, e.data]), [
          ['audit.app.ssh-unauthorized', { index: 'one' }],
          ['audit.app.ssh-unauthorized', { index: '-1' }],
        ]);
        // A stranger learns nothing about the index: the role is checked first.
        await refused(sshAccess(app.guid, 'one', 'stranger'), 403, 'CF-NotAuthorized');
      });

      it('needs a token, as every API request', async () => {
        const app = await createApp('access-token');
        await refused(box.call('GET', `/internal/apps/${app.guid}/ssh_access/0`, undefined, { authorization: '' }), 401, 'CF-NotAuthenticated');
        await refused(box.call('GET', `/internal/apps/${app.guid}/ssh_access/0`, undefined, { authorization: 'bearer not-a-token' }), 401, 'CF-InvalidAuthToken');
        assert.deepEqual(await events(app.guid), []);
      });
    });

    describe("GET / links.app_ssh, from the ssh proxies heard on the bus", () => {
      let server: BusServer;
      const connections: NatsConnection[] = [];
      const advertisement = (port: number, fingerprint: string): SshAdvertisement => ({ id: 'ssh-proxy-test', host: '127.0.0.1', port, host_key_fingerprint: fingerprint });

      before(async () => {
        server = new BusServer();
        await server.listen();
        for (const name of ['controller', 'proxy']) connections.push(await connectBus(server.url, { name }));
      });
      after(async () => {
        box.context.sshProxies = undefined;
        await Promise.allSettled(connections.map((nc) => nc.close()));
        await server?.close();
      });

      const link = async (host?: string) => {
        const res = await box.call('GET', '/', undefined, host ? { host } : {});
        assert.equal(res.status, 200, res.text);
        return res.json().links.app_ssh;
      };

      it('is null while no proxy was heard; a proxy running before the controller answers its ssh.discover; a later ssh.advertise replaces it', async () => {
        const [controllerBus, proxyBus] = connections;
        assert.equal(await link(), null, 'a controller without a bus');
        box.context.sshProxies = new SshProxies({ host: 'ssh.localhost', oauthClient: 'ssh-proxy' });
        assert.equal(await link(), null, 'nothing heard yet');

        const discoverer = subscribe(proxyBus, sshDiscover, (_body, msg) => respond(proxyBus, msg, sshDiscover, advertisement(2222, 'first-fingerprint')), { log: box.context.log });
        await proxyBus.flush();
        const followed = followSshProxies(controllerBus, box.context.sshProxies, box.context.log);
        await followed.discovered;
        assert.deepEqual(await link(), { href: 'ssh.localhost:2222', meta: { host_key_fingerprint: 'first-fingerprint', oauth_client: 'ssh-proxy' } });
        discoverer.unsubscribe();

        await controllerBus.flush();
        publish(proxyBus, sshAdvertise, advertisement(2223, 'second-fingerprint'));
        const second = await waitFor('the advertisement to reach GET /', async () => {
          const l = await link();
          return l?.meta.host_key_fingerprint === 'second-fingerprint' && l;
        }, { timeoutMs: 5_000, intervalMs: 20 });
        assert.deepEqual(second, { href: 'ssh.localhost:2223', meta: { host_key_fingerprint: 'second-fingerprint', oauth_client: 'ssh-proxy' } });
        followed.subscription.unsubscribe();
      });

      it('on the cf address the host is that address (127.0.0.1, localhost), as the API links are', async () => {
        const port = new URL(box.api).port;
        assert.equal((await link(`127.0.0.1:${port}`)).href, '127.0.0.1:2223');
        assert.equal((await link(`localhost:${port}`)).href, 'localhost:2223');
        assert.equal((await link(`api.localhost:${port}`)).href, 'ssh.localhost:2223');
        const root = (await box.call('GET', '/', undefined, { host: `127.0.0.1:${port}` })).json().links;
        assert.equal(root.self.href, `http://127.0.0.1:${port}`, 'the same request\'s API link');
      });
    });
  });
}

describe('controller: migration 0012 (ssh) on rows made before it', function () {
  this.timeout(30_000);
  for (const database of controllerTestDatabases()) {
    it(`apps get ssh on and revisions off, spaces ssh on (${database.name})`, async () => {
      await database.start();
      const args = database.upArgs();
      const opened = await openDatabase(args[1] ?? IN_MEMORY);
      try {
        const { db } = opened;
        const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
        const down = await migrator.migrateTo('0011_sidecars');
        assert.equal(down.error, undefined, String(down.error));
        // Down through the later migrations too, each undone.
        assert.deepEqual(down.results?.at(-1) && [down.results.at(-1)!.migrationName, down.results.at(-1)!.direction], ['0012_ssh', 'Down']);
        assert.ok(down.results?.every((r) => r.direction === 'Down' && r.status === 'Success'), JSON.stringify(down.results));
        // As a controller before 0012 wrote them (seed and the actions now write the new columns).
        const at = now();
        const [org, space] = ['0ld00000-0000-4000-8000-00000000000a', '0ld00000-0000-4000-8000-00000000000b'];
        await sql`insert into organizations (guid, name, suspended, metadata, created_at, updated_at) values (${org}, 'old', 0, '{}', ${at}, ${at})`.execute(db);
        await sql`insert into spaces (guid, name, organization_guid, metadata, created_at, updated_at) values (${space}, 'old', ${org}, '{}', ${at}, ${at})`.execute(db);
        await sql`insert into apps (guid, name, space_guid, state, lifecycle_type, buildpacks, stack, environment_variables, droplet_guid, metadata, created_at, updated_at)
          values ('0ld00000-0000-4000-8000-000000000001', 'old', ${space}, 'STOPPED', 'buildpack', '[]', 'host', '{}', null, '{}', ${at}, ${at})`.execute(db);
        const up = await migrator.migrateToLatest();
        assert.equal(up.error, undefined, String(up.error));
        assert.deepEqual(await db.selectFrom('apps').select(['enable_ssh', 'revisions_enabled']).execute(), [{ enable_ssh: 1, revisions_enabled: 0 }]);
        assert.deepEqual(await db.selectFrom('spaces').select('allow_ssh').execute(), [{ allow_ssh: 1 }]);
      } finally {
        await opened.close();
        await database.stop();
      }
    });
  }
});
