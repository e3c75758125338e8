// The real cf CLI (cf 8, $DEVBOX_CF_CLI) drives a real box through a developer's day: log in and
// target, the org with its quota, a new space with its roles (org-users, space-users, set/unset
// roles), look at the app devbox's own CLI pushed, the marketplace and a p-mysql service from the
// real broker (updated to another plan, renamed), keys, routes and domains (orphaned routes
// deleted), the platform's stacks, buildpacks and feature flags, then scale, stop, start, restart
// and delete. Each step asserts what a user sees: the rows of cf's
// tables by name, and cf's exit code. The steps run in order on one box and one cf login.
//
// More cf cases (cf push, logs, …) go in this file as further `it`s, or in another file that
// uses the same harness: `startCfBox()` (a box and a cf client of it) or `cfFor(box)` from
// test/helpers/cf.ts.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from '../../src/runtime/common/http.js';
import { waitFor } from '../../src/runtime/common/poll.js';
import { startCfBox, table, type Cf, type CfBox } from '../helpers/cf.js';
import { devbox } from '../helpers/devbox.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const helloApp = path.join(root, 'templates/apps/hello-node');

describe('the cf CLI: a developer\'s day against devbox', function () {
  this.timeout(180_000);
  let box: CfBox | undefined;
  let cf: Cf;

  before(async function () {
    this.timeout(240_000);
    // No cf CLI: fails at once, naming DEVBOX_CF_CLI, before starting a box.
    box = await startCfBox({ prefix: 'devbox-cf-cli-' });
    cf = box.cf;
    // devbox's own CLI pushes the app cf then works with (cf push has cases of its own).
    const pushed = await devbox(box.home, ['push', 'hello', '-p', helloApp], { timeoutMs: 120_000 });
    assert.equal(pushed.exitCode, 0, `devbox push: exit ${pushed.exitCode}\n${pushed.stdout}\n${pushed.stderr}`);
  });

  after(async function () {
    this.timeout(60_000);
    await box?.close();
  });

  /** Rows of `cf ARGS`'s table whose first column is `firstColumn`. */
  const rows = async (args: string[], firstColumn: string) => table(await cf.ok(args), firstColumn);
  const row = async (args: string[], firstColumn: string, name: string) => {
    const all = await rows(args, firstColumn);
    const found = all.find((r) => r[firstColumn] === name);
    assert.ok(found, `cf ${args.join(' ')}: no row '${name}' in ${JSON.stringify(all)}`);
    return found;
  };

  it('api, auth and target: cf logs in as the admin and targets org devbox, space dev', async () => {
    await cf.login();
    const target = await cf.ok(['target']);
    assert.equal(/API endpoint:\s+(\S+)/.exec(target)?.[1], cf.api);
    assert.match(target, /user:\s+admin/);
    assert.match(target, /org:\s+devbox/);
    assert.match(target, /space:\s+dev/);
  });

  it('orgs, spaces and space: devbox and dev', async () => {
    await row(['orgs'], 'name', 'devbox');
    await row(['spaces'], 'name', 'dev');
    const space = await cf.ok(['space', 'dev']);
    assert.match(space, /name:\s+dev\n/);
    assert.match(space, /org:\s+devbox\n/);
    assert.match(space, /apps:\s+hello\n/);
  });

  it('org, quotas and quota: every org has the default quota, unlimited; no space quotas', async () => {
    const org = await cf.ok(['org', 'devbox']);
    assert.match(org, /name:\s+devbox\n/);
    assert.match(org, /domains:\s+localhost\n/);
    assert.match(org, /quota:\s+default\n/);
    assert.match(org, /spaces:\s+dev\n/);
    const quota = await row(['quotas'], 'name', 'default');
    assert.equal(quota['total memory'], 'unlimited');
    assert.equal(quota['service instances'], 'unlimited');
    assert.equal(quota['paid service plans'], 'allowed');
    assert.match(await cf.ok(['quota', 'default']), /total memory:\s+unlimited\n/);
    assert.match(await cf.ok(['space-quotas']), /No space quotas found\./);
  });

  it('create-space gives its creator SpaceManager and SpaceDeveloper; org-users, space-users, set/unset roles', async () => {
    const created = await cf.ok(['create-space', 'team']);
    assert.match(created, /Assigning role SpaceManager to user admin in org devbox \/ space team as admin\.\.\.\nOK/);
    assert.match(created, /Assigning role SpaceDeveloper to user admin in org devbox \/ space team as admin\.\.\.\nOK/);
    const users = await cf.ok(['space-users', 'devbox', 'team']);
    assert.match(users, /SPACE MANAGER\n {2}admin \(uaa\)\n/);
    assert.match(users, /SPACE DEVELOPER\n {2}admin \(uaa\)\n/);
    assert.match(users, /SPACE AUDITOR\n {2}No SPACE AUDITOR found\n/);
    assert.match(await cf.ok(['org-users', 'devbox']), /ORG MANAGER\n {2}admin \(uaa\)\n/);

    await cf.ok(['set-space-role', 'admin', 'devbox', 'team', 'SpaceAuditor']);
    assert.match(await cf.ok(['space-users', 'devbox', 'team']), /SPACE AUDITOR\n {2}admin \(uaa\)\n/);
    const again = await cf.run(['set-space-role', 'admin', 'devbox', 'team', 'SpaceAuditor']);
    assert.equal(again.exitCode, 0, again.stdout + again.stderr);
    assert.match(again.stderr, /User 'admin' already has role 'SpaceAuditor' in org 'devbox' \/ space 'team'\./);
    await cf.ok(['unset-space-role', 'admin', 'devbox', 'team', 'SpaceAuditor']);
    assert.match(await cf.ok(['space-users', 'devbox', 'team']), /SPACE AUDITOR\n {2}No SPACE AUDITOR found\n/);
    await cf.ok(['set-org-role', 'admin', 'devbox', 'OrgAuditor']);
    assert.match(await cf.ok(['org-users', 'devbox']), /ORG AUDITOR\n {2}admin \(uaa\)\n/);
    await cf.ok(['unset-org-role', 'admin', 'devbox', 'OrgAuditor']);
    assert.match(await cf.ok(['org-users', 'devbox']), /ORG AUDITOR\n {2}No ORG AUDITOR found\n/);

    const nobody = await cf.run(['set-space-role', 'nobody', 'devbox', 'team', 'SpaceDeveloper']);
    assert.equal(nobody.exitCode, 1, nobody.stdout + nobody.stderr);
    assert.match(nobody.stdout + nobody.stderr, /No user exists with the username 'nobody'\./);
    await cf.ok(['delete-space', 'team', '-f']);
    assert.ok(!(await rows(['spaces'], 'name')).some((r) => r.name === 'team'), 'team is still listed');
  });

  it('apps and app show the pushed app running with its route, stack and buildpack', async () => {
    const hello = await row(['apps'], 'name', 'hello');
    assert.equal(hello['requested state'], 'started');
    assert.equal(hello.processes, 'web:1/1');
    assert.equal(hello.routes, 'hello.localhost');
    const app = await cf.ok(['app', 'hello']);
    assert.match(app, /requested state:\s+started/);
    assert.match(app, /routes:\s+hello\.localhost/);
    assert.match(app, /stack:\s+host/);
    assert.match(app, /\bnodejs\b/);
    assert.match(app, /instances:\s+1\/1/);
    assert.match(app, /#0\s+running\s/);
  });

  it('env shows VCAP_APPLICATION, and events the audit trail', async () => {
    const env = await cf.ok(['env', 'hello']);
    assert.match(env, /VCAP_APPLICATION: \{/);
    assert.match(env, /"application_name": "hello"/);
    const events = await rows(['events', 'hello'], 'time');
    assert.ok(events.some((e) => e.event === 'audit.app.create' && e.actor === 'admin'), JSON.stringify(events));
  });

  it('marketplace lists the p-mysql offering with its plans, description and broker', async () => {
    // The broker registers itself when the box comes up: bounded wait for its catalog.
    const offering = await waitFor('p-mysql in cf marketplace', async () => (await rows(['marketplace'], 'offering')).find((r) => r.offering === 'p-mysql'), { timeoutMs: 30_000, intervalMs: 500 });
    assert.deepEqual(offering.plans.split(', ').sort(), ['medium', 'small']);
    assert.notEqual(offering.description, '');
    assert.equal(offering.broker, 'p-mysql');
    const plans = await cf.ok(['marketplace', '-e', 'p-mysql']);
    assert.match(plans, /broker: p-mysql/);
    assert.match(plans, /\bsmall\b/);
  });

  it('create-service, bind-service: services and service show offering, plan, broker and the bound app', async () => {
    assert.match(await cf.ok(['create-service', 'p-mysql', 'small', 'db']), /Service instance db created\.\nOK/);
    await cf.ok(['bind-service', 'hello', 'db']);
    await cf.ok(['create-user-provided-service', 'ups', '-p', '{"token":"t"}']);
    const db = await row(['services'], 'name', 'db');
    assert.equal(db.offering, 'p-mysql');
    assert.equal(db.plan, 'small');
    assert.equal(db.broker, 'p-mysql');
    assert.equal(db['bound apps'], 'hello');
    assert.equal(db['last operation'], 'create succeeded');
    const ups = await row(['services'], 'name', 'ups');
    assert.equal(ups.offering, 'user-provided');
    const service = await cf.ok(['service', 'db']);
    assert.match(service, /broker:\s+p-mysql/);
    assert.match(service, /offering:\s+p-mysql/);
    assert.match(service, /plan:\s+small/);
    assert.match(service, /description:\s+\S/);
    assert.match(service, /Showing bound apps:\n\s+name\s+binding name\s+status\s+message\n\s+hello\s/);
    assert.match(service, /service_instance_sharing" feature flag is disabled/);
  });

  it('user-provided services: tags, syslog drain and route service URL, checked as Cloud Controller checks them', async () => {
    await cf.ok(['create-user-provided-service', 'ups-full', '-p', '{"a":"b"}', '-t', 'x, y', '-l', 'syslog://127.0.0.1:5140', '-r', 'https://rs.example.com']);
    const shown = await cf.ok(['service', 'ups-full']);
    assert.match(shown, /tags:\s+x, y/);
    assert.match(shown, /syslog drain URL:\s+syslog:\/\/127\.0\.0\.1:5140/i);
    assert.match(shown, /route service URL:\s+https:\/\/rs\.example\.com/i);
    const insecure = await cf.run(['update-user-provided-service', 'ups-full', '-r', 'http://rs.example.com']);
    assert.notEqual(insecure.exitCode, 0);
    assert.match(insecure.stdout + insecure.stderr, /Route service url must be https/);
    const garbage = await cf.run(['create-user-provided-service', 'ups-bad', '-l', 'not a url']);
    assert.notEqual(garbage.exitCode, 0);
    assert.match(garbage.stdout + garbage.stderr, /Syslog drain url must be a valid URI/);
    assert.equal((await cf.run(['service', 'ups-bad'])).exitCode, 1, 'a refused create leaves no instance');
  });

  it('create-service-key and service-keys', async () => {
    await cf.ok(['create-service-key', 'db', 'k1']);
    const key = await row(['service-keys', 'db'], 'name', 'k1');
    assert.equal(key['last operation'], 'create succeeded');
    assert.match(await cf.ok(['service-key', 'db', 'k1']), /"username"/);
  });

  it('domains, routes, create-route and check-route', async () => {
    const domain = await row(['domains'], 'name', 'localhost');
    assert.equal(domain.availability, 'shared');
    const route = await row(['routes'], 'space', 'dev');
    assert.equal(route.host, 'hello');
    assert.equal(route.domain, 'localhost');
    assert.equal(route.apps, 'hello');
    assert.match(await cf.ok(['create-route', 'localhost', '--hostname', 'other']), /Route other\.localhost has been created\./);
    assert.ok((await rows(['routes'], 'space')).some((r) => r.host === 'other' && r.apps === ''));
    assert.match(await cf.ok(['check-route', 'localhost', '--hostname', 'other']), /Route 'other\.localhost' does exist\./);
    assert.match(await cf.ok(['check-route', 'localhost', '--hostname', 'nobody']), /Route 'nobody\.localhost' does not exist\./);
  });

  it('delete-orphaned-routes deletes the routes mapped to no app; the app keeps its route and answers', async () => {
    assert.match(await cf.ok(['delete-orphaned-routes', '-f']), /Deleting orphaned routes as admin\.\.\.\nOK/);
    assert.deepEqual((await rows(['routes'], 'space')).map((r) => [r.host, r.apps]), [['hello', 'hello']]);
    assert.match(await cf.ok(['check-route', 'localhost', '--hostname', 'other']), /Route 'other\.localhost' does not exist\./);
    const res = await request({ url: `http://hello.localhost:${box!.port}/`, timeoutMs: 10_000 });
    assert.equal(res.status, 200, res.text);
  });

  it('stacks, buildpacks and feature-flags show the platform', async () => {
    const stack = await row(['stacks'], 'name', 'host');
    assert.match(stack.description, /host machine/);
    const buildpacks = await rows(['buildpacks'], 'position');
    assert.deepEqual(buildpacks.map((b) => b.name), ['java', 'ruby', 'nodejs', 'go', 'python', 'php', 'staticfile', 'binary']);
    assert.deepEqual(buildpacks[2], { position: '3', name: 'nodejs', stack: 'host', enabled: 'true', locked: 'false', filename: 'nodejs_buildpack' });
    const flags = await rows(['feature-flags'], 'name');
    assert.equal(flags.find((f) => f.name === 'service_instance_sharing')?.state, 'disabled');
    assert.equal(flags.find((f) => f.name === 'route_creation')?.state, 'enabled');
  });

  it('update-service moves db to another plan and passes parameters through the broker; rename-service renames it', async () => {
    assert.match(await cf.ok(['update-service', 'db', '-p', 'medium']), /Update of service instance db complete\.\nOK/);
    const db = await row(['services'], 'name', 'db');
    assert.equal(db.plan, 'medium');
    assert.equal(db['last operation'], 'update succeeded');
    assert.equal(db['bound apps'], 'hello');
    assert.match(await cf.ok(['update-service', 'db', '-c', '{"note":"from cf"}']), /Update of service instance db complete\./);
    assert.match(await cf.ok(['update-service', 'db', '-p', 'medium']), /No changes were made\./);
    await cf.ok(['rename-service', 'db', 'db-renamed']);
    assert.equal((await row(['services'], 'name', 'db-renamed')).plan, 'medium');
    await cf.ok(['rename-service', 'db-renamed', 'db']);
    assert.match(await cf.ok(['service', 'db']), /plan:\s+medium\n/);
  });

  it('scale to two instances: both run', async () => {
    await cf.ok(['scale', 'hello', '-i', '2']);
    await waitFor('cf app hello: two running instances', async () => {
      const app = await cf.ok(['app', 'hello']);
      return /instances:\s+2\/2/.test(app) && /#1\s+running\s/.test(app);
    }, { timeoutMs: 60_000, intervalMs: 1_000 });
    assert.equal((await row(['apps'], 'name', 'hello')).processes, 'web:2/2');
  });

  it('stop, start and restart', async () => {
    assert.match(await cf.ok(['stop', 'hello']), /Stopping app hello/);
    assert.equal((await row(['apps'], 'name', 'hello'))['requested state'], 'stopped');
    const started = await cf.ok(['start', 'hello']);
    assert.match(started, /requested state:\s+started/);
    assert.equal((await row(['apps'], 'name', 'hello'))['requested state'], 'started');
    const restarted = await cf.ok(['restart', 'hello']);
    assert.match(restarted, /Restarting app hello/);
    assert.match(restarted, /#0\s+running\s/);
  });

  it('delete: the app goes, its service and key can be deleted too', async () => {
    await cf.ok(['delete', 'hello', '-f']);
    assert.ok(!(await cf.ok(['apps'])).includes('hello '), 'hello is still listed');
    const gone = await cf.run(['app', 'hello']);
    assert.equal(gone.exitCode, 1);
    assert.match(gone.stdout + gone.stderr, /App 'hello' not found/);
    await cf.ok(['delete-service-key', 'db', 'k1', '-f']);
    await cf.ok(['delete-service', 'db', '-f']);
    await waitFor('db gone from cf services', async () => !(await cf.ok(['services'])).split('\n').some((l) => l.startsWith('db ')), { timeoutMs: 30_000, intervalMs: 500 });
  });
});
