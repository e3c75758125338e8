// Sidecars (CC v3) in the controller, in the test process (helpers/controller.ts), on SQLite and on
// MySQL: the API and Cloud Controller's checks and words, the start messages that carry them to the
// DEAs (the process's types only, never a task's), a manifest's `sidecars:` and an app's deletion.
import assert from 'node:assert/strict';
import { request } from '../../../src/runtime/common/http.js';
import { tarball, uploadBody } from '../../helpers/archives.js';
import { controllerTestDatabases, finishedBuild, STAGED_RESULT, startController, type ControllerHarness } from '../../helpers/controller.js';

const PROCESS_TYPES = { web: 'node server.js', worker: 'node worker.js' };
const YAML = { 'content-type': 'application/x-yaml' };

for (const database of controllerTestDatabases()) {
  describe(`controller: sidecars (${database.name}, in-process)`, function () {
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
    beforeEach(() => {
      box.runner.clear();
      box.runner.stageAnswer = async () => STAGED_RESULT;
    });

    const createApp = async (name: string) => {
      const res = await box.call('POST', '/v3/apps', { name, relationships: { space: { data: { guid: spaceGuid } } } });
      assert.equal(res.status, 201, res.text);
      return res.json() as { guid: string; name: string };
    };
    /** An app with a STAGED droplet (web and worker) as its current one, still STOPPED. */
    const stagedApp = async (name: string) => {
      const app = await createApp(name);
      const created = await box.call('POST', '/v3/packages', { type: 'bits', relationships: { app: { data: { guid: app.guid } } } });
      const { body, contentType } = uploadBody([], tarball([{ path: 'server.js', content: name }]));
      const uploaded = await request({ url: `${box.api}/v3/packages/${created.json().guid}/upload`, method: 'POST', headers: { authorization: `bearer ${box.token}`, 'content-type': contentType }, body });
      assert.equal(uploaded.status, 200, uploaded.text);
      box.runner.uploadsDroplet({ ...STAGED_RESULT, process_types: PROCESS_TYPES });
      const build = await box.call('POST', '/v3/builds', { package: { guid: created.json().guid } });
      const staged = await finishedBuild(box, build.json().guid);
      assert.equal(staged.state, 'STAGED', staged.error ?? '');
      const assigned = await box.call('PATCH', `/v3/apps/${app.guid}/relationships/current_droplet`, { data: { guid: staged.droplet!.guid } });
      assert.equal(assigned.status, 200, assigned.text);
      box.runner.clear();
      return app;
    };
    const sidecar = (appGuid: string, body: Record<string, unknown>) => box.call('POST', `/v3/apps/${appGuid}/sidecars`, body);
    const created = async (appGuid: string, body: Record<string, unknown>) => {
      const res = await sidecar(appGuid, body);
      assert.equal(res.status, 201, res.text);
      return res.json();
    };
    /** The detail of a 422 (and that it is CF-UnprocessableEntity). */
    const refused = async (response: Promise<{ status: number; text: string; json(): { errors: { title: string; detail: string }[] } }>) => {
      const res = await response;
      assert.equal(res.status, 422, res.text);
      assert.equal(res.json().errors[0].title, 'CF-UnprocessableEntity');
      return res.json().errors.map((e) => e.detail).join('\n');
    };
    const processOf = async (appGuid: string, type: string) => (await box.call('GET', `/v3/apps/${appGuid}/processes/${type}`)).json();

    it('POST /v3/apps/:guid/sidecars creates one as Cloud Controller renders it; the app\'s, the process\'s and its own GET show it', async () => {
      const app = await createApp('sc-api');
      const body = await created(app.guid, { name: 'side-kick', command: 'node sidecar.js', process_types: ['worker', 'web'], memory_in_mb: 64 });
      assert.deepEqual(Object.keys(body).sort(), ['command', 'created_at', 'guid', 'memory_in_mb', 'name', 'origin', 'process_types', 'relationships', 'updated_at']);
      assert.equal(body.name, 'side-kick');
      assert.equal(body.command, 'node sidecar.js');
      assert.deepEqual(body.process_types, ['web', 'worker'], 'sorted, as CC presents them');
      assert.equal(body.memory_in_mb, 64);
      assert.equal(body.origin, 'user');
      assert.deepEqual(body.relationships, { app: { data: { guid: app.guid } } });
      assert.match(body.created_at, /^\d{4}-\d\d-\d\dT/);

      const other = await created(app.guid, { name: 'only-web', command: 'sleep 1000', process_types: ['web'] });
      assert.equal(other.memory_in_mb, null, 'no memory of its own');
      assert.deepEqual((await box.call('GET', `/v3/sidecars/${body.guid}`)).json(), body);
      const ofApp = (await box.call('GET', `/v3/apps/${app.guid}/sidecars`)).json();
      assert.equal(ofApp.pagination.total_results, 2);
      assert.deepEqual(ofApp.resources.map((s: { name: string }) => s.name), ['side-kick', 'only-web']);
      assert.match(ofApp.pagination.first.href, new RegExp(`/v3/apps/${app.guid}/sidecars\\?`));
      const web = await processOf(app.guid, 'web');
      assert.deepEqual((await box.call('GET', `/v3/processes/${web.guid}/sidecars?order_by=-created_at`)).json().resources.map((s: { name: string }) => s.name), ['only-web', 'side-kick']);
      const paged = (await box.call('GET', `/v3/processes/${web.guid}/sidecars?per_page=1&page=2`)).json();
      assert.equal(paged.pagination.total_results, 2);
      assert.deepEqual(paged.resources.map((s: { name: string }) => s.name), ['only-web']);
      // A worker process does not exist yet: its sidecars wait for it. Once it does, its list has one.
      assert.equal((await box.call('GET', `/v3/apps/${app.guid}/processes/worker`)).status, 404);

      assert.equal((await box.call('GET', '/v3/sidecars/no-such')).json().errors[0].detail, 'Sidecar not found');
      assert.equal((await sidecar('no-such', { name: 'x', command: 'y', process_types: ['web'] })).json().errors[0].detail, 'App not found');
    });

    it('refuses what Cloud Controller refuses, in its words, and devbox\'s own limits with theirs', async () => {
      const app = await createApp('sc-checks');
      const ok = { name: 'fine', command: 'sleep 1000', process_types: ['web'] };
      assert.equal(await refused(sidecar(app.guid, { ...ok, colour: 'red' })), "Unknown field(s): 'colour'");
      assert.equal(await refused(sidecar(app.guid, { command: 'x', process_types: ['web'] })), "Name can't be blank");
      assert.equal(await refused(sidecar(app.guid, { ...ok, name: 'a'.repeat(256) })), 'Name is too long (maximum is 255 characters)');
      assert.equal(await refused(sidecar(app.guid, { ...ok, command: 'x'.repeat(4097) })), 'Command is too long (maximum is 4096 characters)');
      assert.equal(await refused(sidecar(app.guid, { ...ok, command: '' })), "Command can't be blank");
      assert.equal(await refused(sidecar(app.guid, { ...ok, process_types: [] })), 'Process types must have at least 1 process_type');
      assert.equal(await refused(sidecar(app.guid, { ...ok, process_types: 'web' })), 'Process types must be an array');
      assert.equal(await refused(sidecar(app.guid, { ...ok, process_types: ['x'.repeat(256)] })), 'Process type is too long (maximum is 255 characters)');
      assert.equal(await refused(sidecar(app.guid, { ...ok, memory_in_mb: 0 })), 'Memory in mb must be greater than 0');
      assert.equal(await refused(sidecar(app.guid, { ...ok, memory_in_mb: 1.5 })), 'Memory in mb must be an integer');
      assert.equal(await refused(sidecar(app.guid, { name: '', command: '' })), "Name can't be blank, Command can't be blank, Process types must be an array", 'every problem at once, as CC');
      // devbox's: the name is a log source and a variable name.
      assert.match(await refused(sidecar(app.guid, { ...ok, name: 'side kick' })), /^Name must be 1 to 48 letters, digits, dots, dashes or underscores/);
      assert.match(await refused(sidecar(app.guid, { ...ok, name: 'n'.repeat(48), process_types: ['a-rather-long-process-type'] })), /^Name is too long for process type a-rather-long-process-type: its log source, APP\/PROC\/A-RATHER-LONG-PROCESS-TYPE\/SIDECAR\/N+, may have at most 64 characters$/);

      await created(app.guid, { ...ok, name: 'my-side' });
      assert.equal(await refused(sidecar(app.guid, { ...ok, name: 'my-side' })), "Sidecar with name 'my-side' already exists for given app");
      assert.equal(await refused(sidecar(app.guid, { ...ok, name: 'MY_SIDE' })), "Sidecar name 'MY_SIDE' would give the same SIDECAR_MY_SIDE_PORT as the app's sidecar 'my-side': give it another name");
      // The memory of a process's sidecars must be less than the process's (web: 256M by default).
      assert.equal(await refused(sidecar(app.guid, { ...ok, name: 'big', memory_in_mb: 256 })), 'The memory allocation defined is too large to run with the dependent "web" process');
      await created(app.guid, { ...ok, name: 'half', memory_in_mb: 128 });
      assert.equal(await refused(sidecar(app.guid, { ...ok, name: 'other-half', memory_in_mb: 128 })), 'The memory allocation defined is too large to run with the dependent "web" process');
      assert.equal((await created(app.guid, { ...ok, name: 'other-half', memory_in_mb: 127 })).memory_in_mb, 127);
      // A type the app has no process of is not checked (as CC).
      await created(app.guid, { ...ok, name: 'for-worker', process_types: ['worker'], memory_in_mb: 4096 });
    });

    it('PATCH /v3/sidecars/:guid changes what it gives (checked again); DELETE removes it (204)', async () => {
      const app = await createApp('sc-update');
      const first = await created(app.guid, { name: 'first', command: 'sleep 1', process_types: ['web'], memory_in_mb: 100 });
      await created(app.guid, { name: 'second', command: 'sleep 2', process_types: ['web'], memory_in_mb: 100 });
      const patched = await box.call('PATCH', `/v3/sidecars/${first.guid}`, { command: 'sleep 10', process_types: ['worker', 'web'] });
      assert.equal(patched.status, 200, patched.text);
      const updated = patched.json();
      assert.equal(updated.command, 'sleep 10');
      assert.deepEqual(updated.process_types, ['web', 'worker']);
      assert.equal(updated.memory_in_mb, 100, 'what the request does not give stays');
      assert.equal(updated.name, 'first');
      assert.ok(updated.updated_at >= first.updated_at);
      // Its own memory does not count against it: 150 + 100 < 256; 156 + 100 is not.
      assert.equal((await box.call('PATCH', `/v3/sidecars/${first.guid}`, { memory_in_mb: 150 })).status, 200);
      assert.equal(await refused(box.call('PATCH', `/v3/sidecars/${first.guid}`, { memory_in_mb: 156 })), 'The memory allocation defined is too large to run with the dependent "web" process');
      assert.equal(await refused(box.call('PATCH', `/v3/sidecars/${first.guid}`, { name: 'second' })), "Sidecar with name 'second' already exists for given app");
      assert.equal(await refused(box.call('PATCH', `/v3/sidecars/${first.guid}`, { process_types: [] })), 'Process types must have at least 1 process_type');
      const cleared = (await box.call('PATCH', `/v3/sidecars/${first.guid}`, { memory_in_mb: null, name: 'renamed' })).json();
      assert.equal(cleared.memory_in_mb, null);
      assert.equal(cleared.name, 'renamed');
      assert.deepEqual((await box.call('GET', `/v3/sidecars/${first.guid}`)).json(), cleared);
      assert.equal((await box.call('PATCH', '/v3/sidecars/no-such', { command: 'x' })).status, 404);

      const deleted = await box.call('DELETE', `/v3/sidecars/${first.guid}`);
      assert.equal(deleted.status, 204, deleted.text);
      assert.equal((await box.call('GET', `/v3/sidecars/${first.guid}`)).status, 404);
      assert.deepEqual((await box.call('GET', `/v3/apps/${app.guid}/sidecars`)).json().resources.map((s: { name: string }) => s.name), ['second']);
      assert.equal((await box.call('DELETE', `/v3/sidecars/${first.guid}`)).status, 404);
    });

    it('start messages carry the sidecars of the instance\'s process type, and no task\'s does', async () => {
      const app = await stagedApp('sc-start');
      await created(app.guid, { name: 'side-kick', command: 'node sidecar.js', process_types: ['web'], memory_in_mb: 64 });
      await created(app.guid, { name: 'both', command: 'sleep 1000', process_types: ['web', 'worker'] });
      const started = await box.call('POST', `/v3/apps/${app.guid}/actions/start`);
      assert.equal(started.status, 200, started.text);
      const web = box.runner.starts.find((s) => s.message.process_type === 'web');
      assert.ok(web, 'web started');
      assert.deepEqual(web.message.sidecars, [
        { name: 'both', command: 'sleep 1000' },
        { name: 'side-kick', command: 'node sidecar.js', memory_in_mb: 64 },
      ]);
      assert.equal(web.memoryMb, 256, 'the instance is placed with its process\'s memory: its sidecars share it');
      box.runner.clear();
      const scaled = await box.call('POST', `/v3/apps/${app.guid}/processes/worker/actions/scale`, { instances: 1 });
      assert.equal(scaled.status, 202, scaled.text);
      assert.deepEqual(box.runner.starts.map((s) => [s.message.process_type, s.message.sidecars]), [['worker', [{ name: 'both', command: 'sleep 1000' }]]]);
      // The worker's list has it too, now that the process exists.
      const worker = await processOf(app.guid, 'worker');
      assert.deepEqual((await box.call('GET', `/v3/processes/${worker.guid}/sidecars`)).json().resources.map((s: { name: string }) => s.name), ['both']);

      const task = await box.call('POST', `/v3/apps/${app.guid}/tasks`, { command: 'echo once' });
      assert.equal(task.status, 202, task.text);
      assert.equal(box.runner.taskStarts.length, 1);
      assert.equal(box.runner.taskStarts[0].message.sidecars, undefined, 'tasks get no sidecars');

      // An app without sidecars sends none.
      const plain = await stagedApp('sc-plain');
      await box.call('POST', `/v3/apps/${plain.guid}/actions/start`);
      assert.equal(box.runner.starts.at(-1)!.message.sidecars, undefined);
    });

    it('deleting an app deletes its sidecars', async () => {
      const app = await createApp('sc-delete');
      const one = await created(app.guid, { name: 'one', command: 'sleep 1000', process_types: ['web'] });
      const res = await box.call('DELETE', `/v3/apps/${app.guid}`);
      assert.equal(res.status, 202, res.text);
      assert.equal((await box.call('GET', `/v3/sidecars/${one.guid}`)).status, 404);
      assert.equal((await box.db.selectFrom('sidecar_process_types').selectAll().where('app_guid', '=', app.guid).execute()).length, 0);
    });

    describe('a manifest\'s sidecars: (apply_manifest, as cf push applies it)', () => {
      const apply = (manifest: string) => box.call('POST', `/v3/spaces/${spaceGuid}/actions/apply_manifest`, manifest, YAML);
      const appNamed = async (name: string) => (await box.call('GET', `/v3/apps?names=${name}&space_guids=${spaceGuid}`)).json().resources[0];
      const sidecarsOf = async (appGuid: string) => (await box.call('GET', `/v3/apps/${appGuid}/sidecars`)).json().resources;
      const manifest = (sidecars: string, extra = '') => `---
applications:
- name: sc-manifest
  memory: 256M${extra}
  sidecars:
${sidecars}`;

      it('creates them with the app, then updates them by name (a sidecar the manifest leaves out stays)', async () => {
        const first = await apply(manifest(`  - name: side-kick
    process_types: [web]
    command: node sidecar.js
    memory: 64M
  - name: logger
    process-types: [web, worker]
    command: ./logger
`));
        assert.equal(first.status, 202, first.text);
        const app = await appNamed('sc-manifest');
        const listed = (await sidecarsOf(app.guid)) as { name: string; process_types: string[]; memory_in_mb: number | null; command: string }[];
        // Written in one transaction, at one time: ordered by name here.
        assert.deepEqual(listed.map((s) => [s.name, s.process_types, s.memory_in_mb, s.command]).sort(), [
          ['logger', ['web', 'worker'], null, './logger'],
          ['side-kick', ['web'], 64, 'node sidecar.js'],
        ]);
        // The diff cf shows before it applies the same manifest again: nothing for the sidecars.
        const same = manifest(`  - name: side-kick
    process_types: [web]
    command: node sidecar.js
    memory: 64M
`);
        const diff = await box.call('POST', `/v3/spaces/${spaceGuid}/manifest_diff`, same, YAML);
        assert.equal(diff.status, 201, diff.text);
        assert.deepEqual(diff.json().diff.filter((d: { path: string }) => d.path.includes('sidecars')), []);

        const second = await apply(manifest(`  - name: side-kick
    process_types: [web, worker]
    command: node sidecar.js --verbose
    memory: 1G
`, '\n  processes:\n  - type: worker\n    memory: 2G'));
        assert.equal(second.status, 422, 'a gigabyte is too much beside the 256M web process');
        assert.equal(second.json().errors[0].detail, 'For application \'sc-manifest\': The memory allocation defined is too large to run with the dependent "web" process');
        assert.deepEqual((await sidecarsOf(app.guid)).map((s: { command: string }) => s.command).sort(), ['./logger', 'node sidecar.js'], 'nothing of the refused manifest was written');
        assert.equal((await box.call('GET', `/v3/apps/${app.guid}/processes/worker`)).status, 404, 'the worker of the refused manifest was not created');

        const third = await apply(manifest(`  - name: side-kick
    process_types: [web, worker]
    command: node sidecar.js --verbose
`));
        assert.equal(third.status, 202, third.text);
        const updated = (await sidecarsOf(app.guid)).find((s: { name: string }) => s.name === 'side-kick');
        assert.equal(updated.command, 'node sidecar.js --verbose');
        assert.deepEqual(updated.process_types, ['web', 'worker']);
        assert.equal(updated.memory_in_mb, 64, 'a manifest without memory leaves it');
        assert.equal((await sidecarsOf(app.guid)).length, 2);

        // A process may not shrink below what its sidecars reserve.
        const shrink = await apply(manifest(`  - name: side-kick
    process_types: [web]
    command: node sidecar.js
`, '').replace('memory: 256M', 'memory: 64M'));
        assert.equal(shrink.status, 422, shrink.text);
        assert.equal(shrink.json().errors[0].detail, "For application 'sc-manifest': The requested memory allocation is not large enough to run all of your sidecar processes");
        assert.equal((await processOf(app.guid, 'web')).memory_in_mb, 256);
      });

      it('checks each entry as a sidecar create, every problem at once, naming the sidecar (CC\'s words)', async () => {
        const res = await apply(`---
applications:
- name: sc-bad-manifest
  sidecars:
  - name: no-command
    process_types: [web]
  - command: no name
    process_types: [web]
  - name: no-types
    command: x
  - name: odd
    command: x
    process_types: [web]
    memory: lots
    colour: red
  - name: no-command
    command: twice
    process_types: [web]
`);
        assert.equal(res.status, 422, res.text);
        assert.deepEqual(res.json().errors.map((e: { detail: string }) => e.detail), [
          "For application 'sc-bad-manifest': Sidecar \"no-command\": Command can't be blank",
          "For application 'sc-bad-manifest': Sidecar name can't be blank",
          "For application 'sc-bad-manifest': Sidecar \"no-types\": Process types must be an array",
          "For application 'sc-bad-manifest': Sidecar \"odd\": Unknown field(s): 'colour'",
          "For application 'sc-bad-manifest': Sidecar \"odd\": Memory must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB",
          "For application 'sc-bad-manifest': Sidecar \"no-command\": may only be present once",
        ]);
        assert.equal(await appNamed('sc-bad-manifest'), undefined, 'nothing was created');
        const notList = await apply('---\napplications:\n- name: sc-bad-manifest\n  sidecars: {name: x}\n');
        assert.equal(notList.json().errors[0].detail, "For application 'sc-bad-manifest': Sidecars must be an array of sidecar configurations");
      });
    });
  });
}
