// What the controller asks of the DEAs (its runner) and tells the app log, seen in the test process
// through a recorded runner (helpers/controller.ts), on SQLite and on MySQL: staging and its
// outcome, start messages with VCAP_APPLICATION, stops on scale-down, routes after map and unmap.
// Also what only the database can show: unique violations (racing creates too) and corrupt rows.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from '../../../src/runtime/common/http.js';
import { advanceDeployment, MAX_DEPLOYMENT_FAILURES } from '../../../src/runtime/controller/actions/deployments.js';
import { LOST_TASK_GRACE_MS, reconcileTasks, taskEnded } from '../../../src/runtime/controller/actions/tasks.js';
import { StagingFailure, type FindDropletReply, type StartMessage } from '../../../src/runtime/controller/runner/runner.js';
import { tarball, uploadBody } from '../../helpers/archives.js';
import { controllerTestDatabases, finishedBuild, STAGED_RESULT, startController, type ControllerHarness } from '../../helpers/controller.js';

const PROCESS_TYPES = { web: 'node server.js', worker: 'node worker.js' };
const DROPLET_BITS = Buffer.from('a droplet, as a DEA uploads it');

for (const database of controllerTestDatabases()) {
  describe(`controller and its runner (${database.name}, in-process)`, function () {
    this.timeout(30_000);
    let box: ControllerHarness;
    let spaceGuid: string;
    let domainGuid: string;

    before(async () => {
      await database.start();
      box = await startController({ database });
      spaceGuid = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid;
      domainGuid = (await box.call('GET', '/v3/domains?names=localhost')).json().resources[0].guid;
    });
    after(async () => {
      await box?.stop();
      await database.stop();
    });
    beforeEach(() => {
      box.runner.clear();
      box.runner.stageAnswer = async () => STAGED_RESULT;
    });

    const createApp = async (name: string, extra: Record<string, unknown> = {}) => {
      const res = await box.call('POST', '/v3/apps', { name, relationships: { space: { data: { guid: spaceGuid } } }, ...extra });
      assert.equal(res.status, 201, res.text);
      return res.json() as { guid: string; name: string };
    };

    /** A READY package of the app with one file: what push uploads. */
    const readyPackage = async (appGuid: string, content = 'console.log("hi")') => {
      const created = await box.call('POST', '/v3/packages', { type: 'bits', relationships: { app: { data: { guid: appGuid } } } });
      assert.equal(created.status, 201, created.text);
      const { body, contentType } = uploadBody([], tarball([{ path: 'server.js', content }]));
      const uploaded = await request({ url: `${box.api}/v3/packages/${created.json().guid}/upload`, method: 'POST', headers: { authorization: `bearer ${box.token}`, 'content-type': contentType }, body });
      assert.equal(uploaded.status, 200, uploaded.text);
      return created.json().guid as string;
    };

    const build = async (packageGuid: string) => {
      const res = await box.call('POST', '/v3/builds', { package: { guid: packageGuid } });
      assert.equal(res.status, 201, res.text);
      return res.json() as { guid: string; state: string };
    };

    /** An app with a STAGED droplet (staged by a DEA that uploads) as its current one, still STOPPED. */
    const stagedApp = async (name: string, extra: Record<string, unknown> = {}) => {
      const app = await createApp(name, extra);
      box.runner.uploadsDroplet({ ...STAGED_RESULT, process_types: PROCESS_TYPES }, DROPLET_BITS);
      const staged = await finishedBuild(box, (await build(await readyPackage(app.guid, name))).guid);
      assert.equal(staged.state, 'STAGED', staged.error ?? '');
      const assigned = await box.call('PATCH', `/v3/apps/${app.guid}/relationships/current_droplet`, { data: { guid: staged.droplet!.guid } });
      assert.equal(assigned.status, 200, assigned.text);
      box.runner.clear();
      return { ...app, dropletGuid: staged.droplet!.guid };
    };

    const route = async (host: string) => {
      const res = await box.call('POST', '/v3/routes', { host, relationships: { domain: { data: { guid: domainGuid } }, space: { data: { guid: spaceGuid } } } });
      assert.equal(res.status, 201, res.text);
      return res.json().guid as string;
    };
    const map = async (routeGuid: string, appGuid: string) => {
      const res = await box.call('POST', `/v3/routes/${routeGuid}/destinations`, { destinations: [{ app: { guid: appGuid } }] });
      assert.equal(res.status, 200, res.text);
    };
    const webProcess = async (appGuid: string) => (await box.call('GET', `/v3/apps/${appGuid}/processes/web`)).json() as { guid: string; instances: number };
    const start = async (appGuid: string) => {
      const res = await box.call('POST', `/v3/apps/${appGuid}/actions/start`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json().state, 'STARTED');
    };
    const scale = async (appGuid: string, body: Record<string, unknown>) => {
      const res = await box.call('POST', `/v3/apps/${appGuid}/processes/web/actions/scale`, body);
      assert.equal(res.status, 202, res.text);
    };
    const appLog = (appGuid: string) => box.appLogs.filter((l) => l.appGuid === appGuid);

    describe('staging', () => {
      it('stages on the runner; the DEA uploads the droplet, the build ends STAGED with its process types', async () => {
        const app = await createApp('staged-app');
        const packageGuid = await readyPackage(app.guid);
        box.runner.uploadsDroplet({ ...STAGED_RESULT, process_types: PROCESS_TYPES }, DROPLET_BITS);
        const stagingsBefore = box.counters.stagings;
        const created = await build(packageGuid);
        assert.equal(created.state, 'STAGING');
        const done = await finishedBuild(box, created.guid);
        assert.equal(done.state, 'STAGED', done.error ?? '');
        assert.equal(done.error, null);
        assert.ok(done.droplet, 'the build names its droplet');

        const droplet = (await box.call('GET', `/v3/droplets/${done.droplet.guid}`)).json();
        assert.equal(droplet.state, 'STAGED');
        assert.deepEqual(droplet.process_types, PROCESS_TYPES);
        assert.deepEqual(droplet.checksum, { type: 'sha1', value: createHash('sha1').update(DROPLET_BITS).digest('hex') });
        const download = await fetch(`http://127.0.0.1:${new URL(box.api).port}/v3/droplets/${droplet.guid}/download`, { headers: { authorization: `bearer ${box.token}` }, signal: AbortSignal.timeout(10_000) });
        assert.equal(download.status, 200);
        assert.deepEqual(Buffer.from(await download.arrayBuffer()), DROPLET_BITS, 'the bits the DEA uploaded');

        assert.equal(box.runner.stages.length, 1);
        const [{ request: staging, memoryMb, stack }] = box.runner.stages;
        assert.equal(staging.app_id, app.guid);
        assert.equal(staging.task_id, created.guid);
        assert.equal(staging.package_guid, packageGuid);
        assert.equal(staging.droplet_guid, droplet.guid);
        assert.equal(staging.package_download_uri, `${box.api}/v3/packages/${packageGuid}/download`);
        assert.equal(staging.droplet_upload_uri, `${box.api}/v3/droplets/${droplet.guid}/upload`);
        assert.equal(memoryMb, 1024, 'staging memory: at least 1G');
        assert.equal(stack, 'host');
        assert.equal(box.counters.stagings, stagingsBefore + 1);
        assert.deepEqual(appLog(app.guid).map((l) => `[${l.source}/0] ${l.message}`).slice(-1), [`[API/0] Creating build for app with guid ${app.guid}`]);
      });

      it('a staging error ends the build FAILED with "<id> - <message>" and an [STG/0] ERR line', async () => {
        const app = await createApp('failing-app');
        const packageGuid = await readyPackage(app.guid);
        box.runner.stageAnswer = async () => {
          throw new StagingFailure('NoAppDetectedError', 'An app was not successfully detected by any available buildpack');
        };
        const failuresBefore = box.counters.staging_failures;
        const done = await finishedBuild(box, (await build(packageGuid)).guid);
        assert.equal(done.state, 'FAILED');
        assert.equal(done.error, 'NoAppDetectedError - An app was not successfully detected by any available buildpack');
        assert.equal(done.droplet, null);
        const droplets = (await box.call('GET', `/v3/apps/${app.guid}/droplets`)).json().resources;
        assert.deepEqual(droplets.map((d: { state: string; error: string }) => [d.state, d.error]), [['FAILED', done.error]]);
        assert.deepEqual(appLog(app.guid).filter((l) => l.source === 'STG'), [
          { appGuid: app.guid, source: 'STG', message: 'Staging failed: NoAppDetectedError - An app was not successfully detected by any available buildpack', type: 'ERR' },
        ]);
        assert.equal(box.counters.staging_failures, failuresBefore + 1);
      });

      it('a DEA that answers success without uploading the droplet fails the build', async () => {
        const app = await createApp('no-upload-app');
        const done = await finishedBuild(box, (await build(await readyPackage(app.guid))).guid);
        assert.equal(done.state, 'FAILED');
        assert.equal(done.error, 'StagingError - the droplet was not uploaded');
        assert.deepEqual(appLog(app.guid).filter((l) => l.source === 'STG').map((l) => [l.type, l.message]), [['ERR', 'Staging failed: StagingError - the droplet was not uploaded']]);
      });
    });

    describe('instances', () => {
      let app: { guid: string; name: string; dropletGuid: string };
      let firstStart: StartMessage;

      it('start sends one start message per instance, with VCAP_APPLICATION naming the process and the uris', async () => {
        app = await stagedApp('runner-app', { environment_variables: { GREETING: 'hi' } });
        await map(await route('runner-app'), app.guid);
        box.runner.clear();
        await start(app.guid);
        const web = await webProcess(app.guid);
        assert.equal(box.runner.starts.length, 1);
        const [{ message, memoryMb, stack }] = box.runner.starts;
        firstStart = message;
        assert.equal(memoryMb, 256);
        assert.equal(stack, 'host');
        assert.equal(message.droplet, app.guid);
        assert.equal(message.index, 0);
        assert.equal(message.name, 'runner-app');
        assert.equal(message.process_guid, web.guid);
        assert.equal(message.process_type, 'web');
        assert.equal(message.space_guid, spaceGuid);
        assert.deepEqual(message.uris, ['runner-app.localhost']);
        assert.deepEqual(message.env, { GREETING: 'hi' });
        assert.equal(message.start_command, PROCESS_TYPES.web, "the droplet's web process type");
        assert.equal(message.health_check_type, 'port');
        assert.equal(message.executableUri, `${box.api}/v3/droplets/${app.dropletGuid}/download`);
        assert.equal(message.droplet_guid, app.dropletGuid);
        assert.equal(message.sha1, createHash('sha1').update(DROPLET_BITS).digest('hex'));
        const vcap = message.vcap_application as Record<string, unknown>;
        assert.equal(vcap.application_id, app.guid);
        assert.equal(vcap.application_name, 'runner-app');
        assert.equal(vcap.process_id, web.guid);
        assert.equal(vcap.process_type, 'web');
        assert.deepEqual(vcap.application_uris, ['runner-app.localhost']);
        assert.deepEqual(vcap.uris, ['runner-app.localhost']);
        assert.equal(vcap.space_id, spaceGuid);
        assert.equal(vcap.space_name, 'dev');
        assert.equal(vcap.organization_name, 'devbox');
        assert.equal(vcap.cf_api, box.api);
        assert.deepEqual(vcap.limits, { mem: 256, disk: 1024, fds: 16384 });
        assert.equal(vcap.version, message.version);
        assert.deepEqual(message.limits, vcap.limits);
        assert.deepEqual(appLog(app.guid).map((l) => l.message).slice(-1), [`Updated app with guid ${app.guid} ({"state"=>"STARTED"})`]);
      });

      it('GET /v3/apps/:guid/env shows the VCAP_APPLICATION of the start message', async () => {
        const env = (await box.call('GET', `/v3/apps/${app.guid}/env`)).json();
        assert.deepEqual(env.application_env_json.VCAP_APPLICATION, firstStart.vcap_application);
        assert.deepEqual(env.environment_variables, { GREETING: 'hi' });
      });

      it('scaling up starts the new indices only; scaling down stops the extra indices', async () => {
        await scale(app.guid, { instances: 3 });
        assert.deepEqual(box.runner.starts.map((s) => s.message.index), [1, 2]);
        assert.ok(box.runner.starts.every((s) => s.message.version === firstStart.version), 'the same version: the running instance stays');
        assert.equal(box.runner.stops.length, 0);
        box.runner.clear();

        await scale(app.guid, { instances: 1 });
        assert.equal(box.runner.stops.length, 1);
        assert.equal(box.runner.stops[0].processGuid, app.guid);
        assert.deepEqual(box.runner.stops[0].filter?.indices, [1, 2]);
        assert.deepEqual(box.runner.starts, []);
      });

      it('scaling memory restarts every instance with the new limits, stop before start', async () => {
        await scale(app.guid, { memory_in_mb: 512 });
        assert.deepEqual(box.runner.calls, ['stop', 'start']);
        assert.equal(box.runner.stops[0].processGuid, app.guid);
        assert.equal(box.runner.stops[0].filter?.indices, undefined, 'all of them');
        const [{ message, memoryMb }] = box.runner.starts;
        assert.equal(memoryMb, 512);
        assert.equal(message.index, 0);
        assert.notEqual(message.version, firstStart.version, 'a new version');
        assert.deepEqual((message.vcap_application as { limits: unknown }).limits, { mem: 512, disk: 1024, fds: 16384 });
        firstStart = message;
      });

      it('restart stops every instance, then starts them again as a new version', async () => {
        const res = await box.call('POST', `/v3/apps/${app.guid}/actions/restart`);
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(box.runner.calls, ['stop', 'start']);
        assert.deepEqual(box.runner.stops.map((s) => s.processGuid), [app.guid]);
        assert.equal(box.runner.stops[0].filter?.indices, undefined, 'all of them');
        const [{ message }] = box.runner.starts;
        assert.notEqual(message.version, firstStart.version);
        assert.equal((message.vcap_application as { version: string }).version, message.version);
        firstStart = message;
        assert.deepEqual(
          appLog(app.guid).slice(-2).map((l) => l.message),
          [`Updated app with guid ${app.guid} ({"state"=>"STOPPED"})`, `Updated app with guid ${app.guid} ({"state"=>"STARTED"})`],
        );
      });

      it("map-route and unmap-route tell the runner the app's uris", async () => {
        const second = await route('runner-two');
        await map(second, app.guid);
        assert.equal(box.runner.routes.length, 1);
        assert.equal(box.runner.routes[0].processGuid, app.guid);
        assert.deepEqual([...box.runner.routes[0].uris].sort(), ['runner-app.localhost', 'runner-two.localhost']);
        assert.deepEqual(box.runner.starts, [], 'no instance is restarted for a route');
        assert.equal(appLog(app.guid).at(-1)?.message, `Added route runner-two to app with guid ${app.guid}`);
        const env = (await box.call('GET', `/v3/apps/${app.guid}/env`)).json();
        assert.deepEqual([...env.application_env_json.VCAP_APPLICATION.application_uris].sort(), ['runner-app.localhost', 'runner-two.localhost']);

        const destination = (await box.call('GET', `/v3/routes/${second}/destinations`)).json().destinations[0];
        const unmapped = await box.call('DELETE', `/v3/routes/${second}/destinations/${destination.guid}`);
        assert.equal(unmapped.status, 204, unmapped.text);
        assert.deepEqual(box.runner.routes.at(-1), { processGuid: app.guid, uris: ['runner-app.localhost'] });

        const third = await route('runner-three');
        await map(third, app.guid);
        const deleted = await box.call('DELETE', `/v3/routes/${third}`);
        assert.equal(deleted.status, 202);
        assert.deepEqual(box.runner.routes.at(-1), { processGuid: app.guid, uris: ['runner-app.localhost'] }, 'a deleted route is unmapped');
      });

      it('a start the DEAs have no room for says so on the app log', async () => {
        box.runner.deaId = undefined;
        try {
          await scale(app.guid, { instances: 2 });
          assert.deepEqual(box.runner.starts.map((s) => s.message.index), [1]);
          assert.deepEqual(appLog(app.guid).at(-1), { appGuid: app.guid, source: 'API', message: 'Cannot start instance 1 of process web: no DEA has 512M free (devbox status shows the DEAs)', type: 'ERR' });
        } finally {
          box.runner.deaId = 'recorded-dea';
        }
      });

      it("process stats show the DEAs' best instance of the current version for each index, DOWN where none runs", async () => {
        const version = firstStart.version;
        const reply = (index: number, instance: string, state: FindDropletReply['state'], at: number, of = version): FindDropletReply => ({ dea: 'recorded-dea', droplet: app.guid, version: of, instance, index, state, state_timestamp: at });
        box.runner.instanceAnswer = (appGuid) =>
          appGuid !== app.guid
            ? []
            : [
                reply(0, 'crashed-0', 'CRASHED', 300),
                { ...reply(0, 'running-0', 'RUNNING', 200), stats: { name: app.name, uris: ['runner-app.localhost'], host: '127.0.0.1', port: 61001, uptime: 5, mem_quota: 512 * 1024 * 1024, disk_quota: 1024 * 1024 * 1024, fds_quota: 16384, usage: { cpu: 0.5, mem: 1000, disk: 2000, time: '2024-01-01T00:00:00.000Z' } } },
                reply(1, 'old-1', 'RUNNING', 400, 'an-older-version'),
              ];
        try {
          const stats = (await box.call('GET', `/v3/apps/${app.guid}/processes/web/stats`)).json().resources;
          assert.deepEqual(stats.map((s: { index: number; state: string; instance_guid: string | null }) => [s.index, s.state, s.instance_guid]), [[0, 'RUNNING', 'running-0'], [1, 'DOWN', null]]);
          assert.deepEqual(stats[0].instance_ports, [{ external: 61001, internal: 61001 }]);
          assert.deepEqual(stats[0].usage, { time: '2024-01-01T00:00:00.000Z', cpu: 0.5, mem: 1000, disk: 2000, log_rate: 0 });
          assert.equal(stats[0].routable, true, 'a RUNNING instance is routable');
          assert.equal(stats[1].routable, false);
          assert.equal(stats[0].uptime, 5);
          assert.equal(stats[1].mem_quota, 512 * 1024 * 1024, "the process's own quota where nothing reports");
        } finally {
          box.runner.instanceAnswer = () => [];
        }
      });

      it('stop stops every instance', async () => {
        const res = await box.call('POST', `/v3/apps/${app.guid}/actions/stop`);
        assert.equal(res.status, 200, res.text);
        assert.equal(res.json().state, 'STOPPED');
        assert.deepEqual(box.runner.calls, ['stop']);
        assert.equal(box.runner.stops[0].processGuid, app.guid);
        assert.equal(box.runner.stops[0].filter?.indices, undefined, 'all of them');
        await scale(app.guid, { instances: 3 });
        assert.deepEqual(box.runner.starts, [], 'a stopped app starts nothing when scaled');
      });
    });

    describe('every process type', () => {
      it("a droplet's process types become processes (web with one instance, the others with none), each started, scaled, stopped and asked for stats on its own", async () => {
        const app = await stagedApp('typed-app');
        await map(await route('typed-app'), app.guid);
        const processes = (await box.call('GET', `/v3/apps/${app.guid}/processes`)).json().resources as { guid: string; type: string; instances: number; command: string | null }[];
        assert.deepEqual(processes.map((p) => [p.type, p.instances]), [['web', 1], ['worker', 0]]);
        const web = processes.find((p) => p.type === 'web')!;
        const worker = processes.find((p) => p.type === 'worker')!;
        assert.equal(web.guid, app.guid, "the web process's guid is its app's, as in Cloud Controller");
        assert.notEqual(worker.guid, app.guid);

        box.runner.clear();
        await start(app.guid);
        assert.deepEqual(box.runner.starts.map((s) => s.message.process_type), ['web'], 'a process with no instances starts nothing');
        const scaled = await box.call('POST', `/v3/processes/${worker.guid}/actions/scale`, { instances: 2 });
        assert.equal(scaled.status, 202, scaled.text);
        const workerStarts = box.runner.starts.slice(1).map((s) => s.message);
        assert.deepEqual(workerStarts.map((m) => m.index), [0, 1]);
        for (const m of workerStarts) {
          assert.equal(m.droplet, worker.guid, 'the DEAs know the instance by its process');
          assert.equal(m.app_guid, app.guid, 'its logs are the app’s');
          assert.equal(m.process_type, 'worker');
          assert.equal(m.start_command, PROCESS_TYPES.worker);
          assert.equal(m.health_check_type, 'process', 'a worker has no port to check');
          assert.deepEqual(m.uris, [], 'only web gets the routes');
          assert.equal((m.vcap_application as { process_type: string }).process_type, 'worker');
        }

        box.runner.instanceAnswer = (processGuid) =>
          processGuid === worker.guid ? [{ dea: 'recorded-dea', droplet: worker.guid, version: workerStarts[0].version, instance: 'w0', index: 0, state: 'RUNNING', state_timestamp: 1 }] : [];
        try {
          const stats = (await box.call('GET', `/v3/processes/${worker.guid}/stats`)).json().resources;
          assert.deepEqual(stats.map((s: { index: number; state: string }) => [s.index, s.state]), [[0, 'RUNNING'], [1, 'DOWN']]);
        } finally {
          box.runner.instanceAnswer = () => [];
        }

        box.runner.clear();
        const restarted = await box.call('DELETE', `/v3/processes/${worker.guid}/instances/1`);
        assert.equal(restarted.status, 204, restarted.text);
        assert.deepEqual(box.runner.stops, [{ processGuid: worker.guid, filter: { indices: [1] } }], 'restart-app-instance stops that index of that process only');

        box.runner.clear();
        const stopped = await box.call('POST', `/v3/apps/${app.guid}/actions/stop`);
        assert.equal(stopped.status, 200, stopped.text);
        assert.deepEqual(box.runner.stops.map((s) => s.processGuid).sort(), [app.guid, worker.guid].sort(), 'every process with instances is stopped');
      });

      it('a process whose type has no command anywhere says so on the app log instead of starting', async () => {
        const app = await stagedApp('commandless-app');
        const created = await box.call('POST', `/v3/spaces/${spaceGuid}/actions/apply_manifest`, `applications:\n- name: commandless-app\n  processes:\n  - type: clock\n    instances: 1\n`, { 'content-type': 'application/x-yaml' });
        assert.equal(created.status, 202, created.text);
        box.runner.clear();
        await start(app.guid);
        assert.deepEqual(box.runner.starts.map((s) => s.message.process_type), ['web']);
        assert.ok(
          appLog(app.guid).some((l) => l.type === 'ERR' && /Cannot start process clock: the droplet has no command for it/.test(l.message)),
          appLog(app.guid).map((l) => l.message).join('\n'),
        );
      });
    });

    describe('tasks', () => {
      let app: { guid: string; name: string; dropletGuid: string };
      const run = (body: Record<string, unknown>, appGuid = app.guid) => box.call('POST', `/v3/apps/${appGuid}/tasks`, body);
      const task = async (guid: string) => (await box.call('GET', `/v3/tasks/${guid}`)).json();

      before(async () => {
        app = await stagedApp('task-app', { environment_variables: { GREETING: 'hi' } });
      });

      it('POST /v3/apps/:guid/tasks places the task on a DEA: 202 RUNNING, numbered per app, with the app\'s droplet, environment and bindings', async () => {
        box.runner.clear();
        const created = await run({ command: 'rake db:migrate', name: 'migrate', memory_in_mb: 128 });
        assert.equal(created.status, 202, created.text);
        const body = created.json();
        assert.equal(body.state, 'RUNNING');
        assert.equal(body.sequence_id, 1);
        assert.equal(body.name, 'migrate');
        assert.equal(body.command, 'rake db:migrate');
        assert.equal(body.memory_in_mb, 128);
        assert.equal(body.droplet_guid, app.dropletGuid);
        assert.deepEqual(body.result, { failure_reason: null });
        assert.equal(body.links.cancel.href, `${box.api}/v3/tasks/${body.guid}/actions/cancel`);
        const [{ message, memoryMb }] = box.runner.taskStarts;
        assert.equal(memoryMb, 128);
        assert.equal(message.task_guid, body.guid);
        assert.equal(message.droplet, body.guid, 'the DEA knows it by its own guid');
        assert.equal(message.app_guid, app.guid);
        assert.equal(message.task_name, 'migrate');
        assert.equal(message.start_command, 'rake db:migrate');
        assert.deepEqual(message.env, { GREETING: 'hi' });
        assert.deepEqual(message.uris, []);
        assert.equal(message.limits?.mem, 128);
        assert.equal(message.executableUri, `${box.api}/v3/droplets/${app.dropletGuid}/download`);
        assert.equal((message.vcap_application as { application_id: string }).application_id, app.guid);

        const second = (await run({ command: 'echo again' })).json();
        assert.equal(second.sequence_id, 2);
        assert.match(second.name, /^[0-9a-f]{8}$/, 'an unnamed task gets a random name, as in CC');
        assert.equal(second.memory_in_mb, 256, "the controller's default");
      });

      it('takes command, memory and disk from a template process', async () => {
        const worker = (await box.call('GET', `/v3/apps/${app.guid}/processes/worker`)).json();
        await box.call('POST', `/v3/processes/${worker.guid}/actions/scale`, { memory_in_mb: 64 });
        const body = (await run({ template: { process: { guid: worker.guid } } })).json();
        assert.equal(body.command, PROCESS_TYPES.worker);
        assert.equal(body.memory_in_mb, 64);
      });

      it("refuses what CC refuses: no command, a blank one, a bad name, an app without a droplet, another app's process", async () => {
        const refused = async (body: Record<string, unknown>, detail: RegExp, appGuid?: string) => {
          const res = await run(body, appGuid);
          assert.equal(res.status, 422, res.text);
          assert.match(res.json().errors[0].detail, detail);
        };
        await refused({ name: 'x' }, /command must be given/);
        await refused({ command: '  ' }, /Command can't be blank/);
        await refused({ command: 'x', name: 'has spaces' }, /Name must be 1 to 48 letters/);
        await refused({ command: 'x' }, /Task must have a droplet/, (await createApp('dropletless')).guid);
        const other = await stagedApp('other-task-app');
        await refused({ template: { process: { guid: other.guid } } }, /Template process must belong to the same app/);
        assert.equal((await run({ command: 'x', colour: 'blue' })).status, 422);
      });

      it('records the end a DEA reports once; cancel makes a running task CANCELING and asks the DEAs, an ended one is 422', async () => {
        const created = (await run({ command: 'sleep 100', name: 'long' })).json();
        box.runner.clear();
        const canceled = await box.call('POST', `/v3/tasks/${created.guid}/actions/cancel`);
        assert.equal(canceled.status, 202, canceled.text);
        assert.equal(canceled.json().state, 'CANCELING');
        assert.deepEqual(box.runner.taskCancels, [created.guid]);
        const exited = { task_guid: created.guid, app_guid: app.guid, dea: 'recorded-dea', state: 'FAILED' as const, exit_status: 143, failure_reason: 'task was cancelled' };
        await taskEnded(box.context, exited);
        await taskEnded(box.context, { ...exited, state: 'SUCCEEDED', failure_reason: null });
        const ended = await task(created.guid);
        assert.equal(ended.state, 'FAILED', 'a late report does not undo an end');
        assert.deepEqual(ended.result, { failure_reason: 'task was cancelled' });
        const again = await box.call('POST', `/v3/tasks/${created.guid}/actions/cancel`);
        assert.equal(again.status, 422);
        assert.equal(again.json().errors[0].detail, 'Task state is FAILED and therefore cannot be canceled');
        assert.ok(box.appLogs.some((l) => l.appGuid === app.guid && l.message === `Task long (${created.sequence_id}) failed: task was cancelled`));
      });

      it('settles live tasks with the DEAs: an end they remember is recorded, one no DEA knows is FAILED once its grace is over', async () => {
        const remembered = (await run({ command: 'true', name: 'remembered' })).json();
        const lost = (await run({ command: 'true', name: 'lost' })).json();
        box.runner.taskAnswer = (guids) =>
          guids.includes(remembered.guid)
            ? [{ task_guid: remembered.guid, dea: 'recorded-dea', state: 'SUCCEEDED', exited: { task_guid: remembered.guid, app_guid: app.guid, dea: 'recorded-dea', state: 'SUCCEEDED', exit_status: 0, failure_reason: null } }]
            : [];
        try {
          await reconcileTasks(box.context);
          assert.equal((await task(remembered.guid)).state, 'SUCCEEDED');
          assert.equal((await task(lost.guid)).state, 'RUNNING', 'within its grace a task may still be on its way');
          box.runner.deas = 0;
          await reconcileTasks(box.context, Date.now() + LOST_TASK_GRACE_MS + 1_000);
          assert.equal((await task(lost.guid)).state, 'RUNNING', 'with no DEA heard from (a controller just started) nothing is judged lost');
          box.runner.deas = 1;
          await reconcileTasks(box.context, Date.now() + LOST_TASK_GRACE_MS + 1_000);
          const failed = await task(lost.guid);
          assert.equal(failed.state, 'FAILED');
          assert.equal(failed.result.failure_reason, 'the DEA running the task (recorded-dea) is gone');
        } finally {
          box.runner.taskAnswer = () => [];
        }
      });

      it('a task no DEA has room for is FAILED at once, saying so', async () => {
        box.runner.deaId = undefined;
        try {
          const body = (await run({ command: 'true', name: 'roomless' })).json();
          assert.equal(body.state, 'FAILED');
          assert.match(body.result.failure_reason, /^insufficient resources: no DEA has 256M free/);
        } finally {
          box.runner.deaId = 'recorded-dea';
        }
      });

      it('lists tasks by app with filters; deleting the app cancels its live tasks and removes them', async () => {
        const list = (await box.call('GET', `/v3/apps/${app.guid}/tasks?order_by=-created_at&states=RUNNING,FAILED`)).json();
        assert.ok(list.resources.length >= 3);
        assert.ok(list.resources.every((t: { state: string }) => ['RUNNING', 'FAILED'].includes(t.state)));
        const first = (await box.call('GET', `/v3/apps/${app.guid}/tasks?sequence_ids=1`)).json().resources;
        assert.deepEqual(first.map((t: { name: string }) => t.name), ['migrate']);
        const live = list.resources.filter((t: { state: string }) => t.state === 'RUNNING').map((t: { guid: string }) => t.guid).sort();
        box.runner.clear();
        const deleted = await box.call('DELETE', `/v3/apps/${app.guid}`);
        assert.equal(deleted.status, 202, deleted.text);
        assert.deepEqual([...box.runner.taskCancels].sort(), live);
        assert.equal((await box.call('GET', `/v3/tasks?app_guids=${app.guid}`)).json().resources.length, 0);
      });
    });

    describe('rolling deployments', () => {
      let app: { guid: string; name: string; dropletGuid: string };
      const deployment = async (guid: string) => (await box.call('GET', `/v3/deployments/${guid}`)).json();
      const desiredWeb = async (appGuid: string) => ((await box.call('GET', '/internal/v3/desired_processes')).json().processes as { process_guid: string; deploying: boolean; version: string }[]).find((p) => p.process_guid === appGuid)!;
      /** What the DEAs report: instances of the web process as [index, state, version, guid]. */
      const report = (appGuid: string, instances: [number, FindDropletReply['state'], string, string][]) => {
        box.runner.instanceAnswer = (processGuid) =>
          processGuid !== appGuid ? [] : instances.map(([index, state, version, instance]) => ({ dea: 'recorded-dea', droplet: appGuid, version, instance, index, state, state_timestamp: Date.now() / 1000 }));
      };
      const step = async (guid: string, nowMs?: number) => advanceDeployment(box.context, (await findDeploymentRow(guid))!, nowMs);
      const findDeploymentRow = (guid: string) => box.context.db.selectFrom('deployments').selectAll().where('guid', '=', guid).executeTakeFirst();

      before(async () => {
        app = await stagedApp('rolling-app');
        await scale(app.guid, { instances: 2 });
        await start(app.guid);
      });
      afterEach(() => {
        box.runner.instanceAnswer = () => [];
      });

      it('replaces the web instances one index at a time: a new one RUNNING before the old one at its index stops; DEPLOYED when no old one is left', async () => {
        const v1 = (await webProcess(app.guid) as unknown as { version: string }).version;
        report(app.guid, [[0, 'RUNNING', v1, 'old-0'], [1, 'RUNNING', v1, 'old-1']]);
        box.runner.clear();
        const created = await box.call('POST', '/v3/deployments', { relationships: { app: { data: { guid: app.guid } } }, strategy: 'rolling' });
        assert.equal(created.status, 201, created.text);
        const d = created.json();
        assert.deepEqual([d.state, d.status.value, d.status.reason, d.strategy], ['DEPLOYING', 'ACTIVE', 'DEPLOYING', 'rolling']);
        assert.deepEqual(d.new_processes, [{ guid: app.guid, type: 'web' }]);
        assert.equal(d.droplet.guid, app.dropletGuid);
        assert.equal(d.previous_droplet.guid, app.dropletGuid);
        const v2 = box.runner.starts[0].message.version;
        assert.notEqual(v2, v1);
        assert.deepEqual(box.runner.starts.map((s) => s.message.index), [0], 'one new instance at a time (max_in_flight 1)');
        assert.deepEqual(box.runner.stops, [], 'nothing old stops before a new one runs');
        assert.equal((await desiredWeb(app.guid)).deploying, true, 'the health manager leaves it to the deployment');

        report(app.guid, [[0, 'RUNNING', v1, 'old-0'], [1, 'RUNNING', v1, 'old-1'], [0, 'STARTING', v2, 'new-0']]);
        box.runner.clear();
        await step(d.guid);
        assert.deepEqual([box.runner.starts.length, box.runner.stops.length], [0, 0], 'waits while the new one starts');

        report(app.guid, [[0, 'RUNNING', v1, 'old-0'], [1, 'RUNNING', v1, 'old-1'], [0, 'RUNNING', v2, 'new-0']]);
        await step(d.guid);
        assert.deepEqual(box.runner.stops, [{ processGuid: app.guid, filter: { instances: ['old-0'] } }]);
        assert.deepEqual(box.runner.starts.map((s) => [s.message.index, s.message.version]), [[1, v2]]);

        report(app.guid, [[1, 'RUNNING', v1, 'old-1'], [0, 'RUNNING', v2, 'new-0'], [1, 'RUNNING', v2, 'new-1']]);
        box.runner.clear();
        await step(d.guid);
        assert.deepEqual(box.runner.stops, [{ processGuid: app.guid, filter: { instances: ['old-1'] } }]);
        assert.equal((await deployment(d.guid)).status.value, 'ACTIVE', 'until the old one is gone');

        report(app.guid, [[0, 'RUNNING', v2, 'new-0'], [1, 'RUNNING', v2, 'new-1']]);
        await step(d.guid);
        const done = await deployment(d.guid);
        assert.deepEqual([done.state, done.status.value, done.status.reason], ['DEPLOYED', 'FINALIZED', 'DEPLOYED']);
        assert.equal(done.links.cancel, undefined);
        assert.equal((await desiredWeb(app.guid)).deploying, false);
        const listed = (await box.call('GET', `/v3/deployments?app_guids=${app.guid}&status_values=FINALIZED`)).json().resources;
        assert.ok(listed.some((x: { guid: string }) => x.guid === d.guid));
      });

      it('cancel restores the previous droplet and version, starts the old instances that are missing and stops the new ones', async () => {
        const v1 = (await desiredWeb(app.guid)).version;
        report(app.guid, [[1, 'RUNNING', v1, 'old-1']]);
        const d = (await box.call('POST', '/v3/deployments', { relationships: { app: { data: { guid: app.guid } } } })).json();
        const v2 = (await desiredWeb(app.guid)).version;
        box.runner.clear();
        const canceled = await box.call('POST', `/v3/deployments/${d.guid}/actions/cancel`);
        assert.equal(canceled.status, 200, canceled.text);
        const after = await deployment(d.guid);
        assert.deepEqual([after.state, after.status.value, after.status.reason], ['CANCELED', 'FINALIZED', 'CANCELED']);
        assert.equal((await desiredWeb(app.guid)).version, v1, 'the previous version is the desired one again');
        assert.deepEqual(box.runner.starts.map((s) => [s.message.index, s.message.version]), [[0, v1]], 'the missing old index starts again');
        assert.deepEqual(box.runner.stops, [{ processGuid: app.guid, filter: { version: v2 } }]);
        const again = await box.call('POST', `/v3/deployments/${d.guid}/actions/cancel`);
        assert.equal(again.status, 422);
        assert.equal(again.json().errors[0].detail, 'Cannot cancel a deployment with status: FINALIZED and reason: CANCELED');
      });

      it('cancels itself when new instances keep crashing, and says why', async () => {
        const v1 = (await desiredWeb(app.guid)).version;
        report(app.guid, [[0, 'RUNNING', v1, 'old-0'], [1, 'RUNNING', v1, 'old-1']]);
        const d = (await box.call('POST', '/v3/deployments', { relationships: { app: { data: { guid: app.guid } } } })).json();
        const v2 = (await desiredWeb(app.guid)).version;
        for (let attempt = 0; attempt < MAX_DEPLOYMENT_FAILURES; attempt++) {
          report(app.guid, [[0, 'RUNNING', v1, 'old-0'], [1, 'RUNNING', v1, 'old-1'], [0, 'CRASHED', v2, `new-0-${attempt}`]]);
          await step(d.guid);
        }
        const after = await deployment(d.guid);
        assert.deepEqual([after.status.value, after.status.reason], ['FINALIZED', 'CANCELED']);
        assert.match(after.status.details.error, /new instances failed 3 times/);
        assert.equal((await desiredWeb(app.guid)).version, v1);
        assert.ok(box.appLogs.some((l) => l.appGuid === app.guid && l.type === 'ERR' && /Canceled deployment .*: new instances failed 3 times/.test(l.message)));
      });

      it('a new deployment supersedes the active one; a stopped app is started with the droplet and DEPLOYED at once', async () => {
        const first = (await box.call('POST', '/v3/deployments', { relationships: { app: { data: { guid: app.guid } } } })).json();
        const second = (await box.call('POST', '/v3/deployments', { relationships: { app: { data: { guid: app.guid } } } })).json();
        assert.deepEqual([(await deployment(first.guid)).status.reason, second.status.value], ['SUPERSEDED', 'ACTIVE']);
        await box.call('POST', `/v3/deployments/${second.guid}/actions/cancel`);

        const stopped = await stagedApp('rolling-stopped');
        box.runner.clear();
        const d = (await box.call('POST', '/v3/deployments', { relationships: { app: { data: { guid: stopped.guid } } } })).json();
        assert.deepEqual([d.status.value, d.status.reason], ['FINALIZED', 'DEPLOYED']);
        assert.equal((await box.call('GET', `/v3/apps/${stopped.guid}`)).json().state, 'STARTED');
        assert.deepEqual(box.runner.starts.map((s) => s.message.index), [0]);
      });

      it("refuses what CC refuses: an unknown app, no droplet, another strategy, a revision", async () => {
        const refused = async (body: Record<string, unknown>, detail: RegExp) => {
          const res = await box.call('POST', '/v3/deployments', body);
          assert.equal(res.status, 422, res.text);
          assert.match(res.json().errors[0].detail, detail);
        };
        const rel = (guid: string) => ({ relationships: { app: { data: { guid } } } });
        await refused(rel('no-such-app'), /^Unable to use app/);
        await refused(rel((await createApp('undeployable')).guid), /^Invalid droplet/);
        await refused({ ...rel(app.guid), strategy: 'canary' }, /Strategy 'canary' is not supported/);
        await refused({ ...rel(app.guid), revision: { guid: 'r' } }, /Revisions are not supported/);
      });
    });

    describe('the database', () => {
      it('answers 422 CF-UniquenessError for a second app of one name in a space, also when both are created at once', async () => {
        await createApp('unique-app');
        const second = await box.call('POST', '/v3/apps', { name: 'unique-app', relationships: { space: { data: { guid: spaceGuid } } } });
        assert.equal(second.status, 422);
        assert.deepEqual(second.json().errors[0], { detail: "App with the name 'unique-app' already exists.", title: 'CF-UniquenessError', code: 10016 });

        const racing = await Promise.all([1, 2, 3, 4].map(() => box.call('POST', '/v3/apps', { name: 'race-app', relationships: { space: { data: { guid: spaceGuid } } } })));
        assert.deepEqual(racing.map((r) => r.status).sort(), [201, 422, 422, 422], racing.map((r) => r.text).join('\n'));
        for (const lost of racing.filter((r) => r.status === 422)) assert.deepEqual(lost.json().errors[0], { detail: "App with the name 'race-app' already exists.", title: 'CF-UniquenessError', code: 10016 });
        const apps = (await box.call('GET', '/v3/apps?names=race-app')).json().resources;
        assert.equal(apps.length, 1);
        assert.equal(apps[0].guid, racing.find((r) => r.status === 201)!.json().guid);
        const created = (await box.call('GET', `/v3/audit_events?types=audit.app.create&target_guids=${apps[0].guid}`)).json().resources;
        assert.equal(created.length, 1, 'one audit event: the losers left nothing behind');
        const orphans = await box.db.selectFrom('processes').select('guid').where('app_guid', 'not in', box.db.selectFrom('apps').select('guid')).execute();
        assert.deepEqual(orphans, [], 'no process of an app that was not made');

        const renamed = await box.call('PATCH', `/v3/apps/${apps[0].guid}`, { name: 'unique-app' });
        assert.equal(renamed.status, 422);
        assert.equal(renamed.json().errors[0].title, 'CF-UniquenessError');
        assert.equal(box.stats.errors, 0, 'no 500 on the way');
      });

      it('answers 500 CF-ServerError for a row with corrupt JSON, and logs the table, the row and the column', async () => {
        const app = await createApp('corrupt-app');
        await box.db.updateTable('apps').set({ metadata: '{not json' }).where('guid', '=', app.guid).execute();
        const errorsBefore = box.stats.errors;
        const res = await box.call('GET', `/v3/apps/${app.guid}`);
        assert.equal(res.status, 500);
        assert.deepEqual(res.json().errors[0], { detail: 'An unknown error occurred.', title: 'CF-ServerError', code: 10001 });
        assert.equal(box.stats.errors, errorsBefore + 1);
        const logged = box.log.map((line) => JSON.parse(line) as { level: string; msg: string; error?: string; url?: string }).filter((l) => l.level === 'error' && l.url === `/v3/apps/${app.guid}`);
        assert.equal(logged.length, 1, box.log.join('\n'));
        assert.equal(logged[0].msg, 'request failed');
        assert.match(String(logged[0].error), new RegExp(`\\bapps\\b.*${app.guid}.*\\bmetadata\\b`));
        assert.doesNotMatch(res.text, /not json|metadata/, 'the client is told nothing of it');
      });
    });
  });
}
