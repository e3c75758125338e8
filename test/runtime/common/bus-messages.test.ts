// The bus contracts (common/bus-messages.ts): the check combinators, what each contract lets through
// (every devbox publisher's message does; what receivers cannot use does not), and the typed
// helpers of common/bus.ts on a real bus: a malformed message is logged and dropped where it
// arrives, and the well-formed one after it is delivered.
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from 'nats';
import { MalformedReply, publish, request, requestMany, respond, subscribe } from '../../../src/runtime/common/bus.js';
import {
  appLogs,
  array,
  componentDiscover,
  deaAdvertise,
  deaFindDroplet,
  deaHeartbeat,
  deaStart,
  deaStop,
  deaUpdate,
  dropletExited,
  either,
  healthStart,
  healthStop,
  index,
  myaasAnnounce,
  myaasCheckOrphan,
  myaasRequest,
  nonEmpty,
  nullable,
  number,
  object,
  oneOf,
  optional,
  record,
  routerGreet,
  routerRegister,
  routerStart,
  stagingStart,
  string,
  where,
  type Contract,
  type StartMessage,
  type StagingRequest,
} from '../../../src/runtime/common/bus-messages.js';
import { createLogger } from '../../../src/runtime/common/log.js';
import { waitFor } from '../../../src/runtime/common/net.js';
import { startTestServer, type ServerKind, type TestServer } from '../bus/helpers.js';

/** Why `value` fails the contract's check (undefined: it passes). */
const problem = <T>(contract: Contract<T>, value: unknown) => contract.check.problem(value);

/** A start message as the controller sends it (docs/dea-protocol.md). */
const START: StartMessage = {
  droplet: 'app-1',
  version: 'v-1',
  name: 'myapp',
  index: 0,
  process_guid: 'p-1',
  process_type: 'web',
  space_guid: 's-1',
  uris: ['myapp.localhost'],
  limits: { mem: 256, disk: 1024, fds: 16384 },
  env: { GREETING: 'hi' },
  services: [{ name: 'db', label: 'p-mysql', plan: 'small', tags: ['mysql'], credentials: { uri: 'mysql://u:p@h:3306/d' }, syslog_drain_url: null, volume_mounts: [] }],
  start_command: 'npm start',
  health_check_type: 'port',
  health_check_http_endpoint: null,
  health_check_timeout: 60,
  vcap_application: { application_id: 'app-1', limits: { mem: 256 } },
  executableUri: 'http://api.localhost:8080/v3/droplets/d-1/download',
  sha1: null,
  droplet_guid: 'd-1',
};

const STAGING: StagingRequest = {
  app_id: 'app-1',
  task_id: 'build-1',
  package_guid: 'pkg-1',
  droplet_guid: 'd-1',
  package_download_uri: 'http://api.localhost:8080/v3/packages/pkg-1/download',
  droplet_upload_uri: 'http://api.localhost:8080/v3/droplets/d-1/upload',
  buildpacks: [],
  environment: { K: 'V' },
  start_command: null,
  memory_limit: 256,
  disk_limit: 1024,
  stack: 'host',
};

describe('common: bus contracts', () => {
  describe('checks', () => {
    it('say which field is wrong and what was expected', () => {
      const check = object<{ a: string; b?: number[]; c?: Record<string, 'x'> }>({ a: nonEmpty, b: optional(array(index)), c: optional(record(oneOf('x'))) });
      assert.equal(check.problem('x'), 'the message: expected an object');
      assert.equal(check.problem([]), 'the message: expected an object');
      assert.equal(check.problem({ a: '' }), 'a: expected a non-empty string');
      assert.equal(check.problem({ a: 'x', b: [0, 1, -1] }), 'b[2]: expected an integer ≥ 0');
      assert.equal(check.problem({ a: 'x', c: { ok: 'x', 'no\r\nkey': 'y' } }), 'c.[…]: expected one of x');
      assert.equal(object<{ o: { p: number } }>({ o: object({ p: number }) }).problem({ o: { p: Infinity } }), 'o.p: expected a number');
    });

    it('tell absent from null, and know either and where', () => {
      assert.equal(optional(string).problem(undefined), undefined);
      assert.match(optional(string).problem(null) ?? '', /expected a string/);
      assert.equal(nullable(string).problem(null), undefined);
      assert.match(nullable(string).problem(undefined) ?? '', /expected a string/);
      const id = either(string, index);
      assert.equal(id.problem('3'), undefined);
      assert.equal(id.problem(3), undefined);
      assert.equal(id.problem(true, 'index'), 'index: expected a string or an integer ≥ 0');
      const port = where(number, (n) => n > 0, 'a port');
      assert.equal(port.problem('80', 'port'), 'port: expected a number');
      assert.equal(port.problem(0, 'port'), 'port: expected a port');
      assert.equal(port.is(80), true);
    });

    it('never quote the value they refuse (payloads carry secrets)', () => {
      const secret = 'hunter2-s3cret';
      const reasons = [
        problem(deaStart('dea-0'), { ...START, env: { DB_PASSWORD: [secret] } }),
        problem(stagingStart('dea-0'), { ...STAGING, environment: { TOKEN: { value: secret } } }),
        problem(routerRegister, { host: '127.0.0.1', port: 80, uris: [`${secret} x`] }),
        problem(myaasRequest('bind', 'n'), { name: 'cf_x', binding_id: 'b', bind_opts: secret }),
      ];
      for (const reason of reasons) {
        assert.ok(reason, 'refused');
        assert.doesNotMatch(reason, /hunter2/);
      }
    });
  });

  describe('subjects', () => {
    it('build the per-id subjects of classic Cloud Foundry', () => {
      assert.equal(deaStart('dea-0').subject, 'dea.dea-0.start');
      assert.equal(stagingStart('dea-1').subject, 'staging.dea-1.start');
      assert.equal(appLogs('app-1').subject, 'logs.app-1');
      assert.equal(myaasRequest('provision', 'mysql-node-0').subject, 'MyaaS.provision.mysql-node-0');
      assert.equal(myaasRequest('purge_orphan', 'mysql-node-0').subject, 'MyaaS.purge_orphan.mysql-node-0');
      assert.equal(deaStop.subject, 'dea.stop');
      assert.equal(myaasCheckOrphan.subject, 'MyaaS.check_orphan');
    });
  });

  describe('router', () => {
    const reg = { host: '127.0.0.1', port: 61001, uris: ['a.localhost'], app: 'app-1', private_instance_id: 'i-1', private_instance_index: '0', tags: { component: 'dea-0' } };

    it('takes what registrants send, nulls included', () => {
      assert.equal(problem(routerRegister, reg), undefined);
      assert.equal(problem(routerRegister, { ...reg, app: null, private_instance_id: null, index: 2, tags: null, stale_threshold_in_seconds: 120 }), undefined);
      assert.equal(problem(routerRegister, { host: 'h', port: 1, uris: [] }), undefined);
    });

    it('refuses registrations it could not route, or that would inject headers', () => {
      assert.match(problem(routerRegister, { host: '127.0.0.1', uris: [] }) ?? '', /^port:/);
      assert.match(problem(routerRegister, { host: '127.0.0.1', port: 70000, uris: [] }) ?? '', /^port: expected an integer 1-65535/);
      assert.match(problem(routerRegister, { host: '127.0.0.1', port: 80, uris: 'a' }) ?? '', /^uris: expected an array/);
      assert.match(problem(routerRegister, { ...reg, host: '' }) ?? '', /^host:/);
      assert.match(problem(routerRegister, { ...reg, app: 'x\r\nSet-Cookie: evil' }) ?? '', /^app: expected printable ASCII/);
      assert.match(problem(routerRegister, { ...reg, private_instance_id: 'i\u010d\u010a' }) ?? '', /^private_instance_id:/);
      assert.match(problem(routerRegister, { ...reg, private_instance_index: 'a b' }) ?? '', /^private_instance_index:/);
      assert.match(problem(routerRegister, { ...reg, tags: { component: 1 } }) ?? '', /^tags\.component:/);
      assert.ok(problem(routerRegister, null));
    });

    it('router.start needs a usable register interval', () => {
      const start = { id: 'r', hosts: ['127.0.0.1'], minimumRegisterIntervalInSeconds: 20, pruneThresholdInSeconds: 120 };
      assert.equal(problem(routerStart, start), undefined);
      assert.equal(routerGreet.reply.problem(start), undefined);
      assert.match(problem(routerStart, { ...start, minimumRegisterIntervalInSeconds: 0 }) ?? '', /minimumRegisterIntervalInSeconds/);
    });
  });

  describe('DEA and controller', () => {
    it('start: takes the controller message; refuses one without droplet, index or executableUri', () => {
      assert.equal(problem(deaStart('dea-0'), START), undefined);
      const { start_command: _c, sha1: _s, services: _v, env: _e, ...minimal } = START;
      assert.equal(problem(deaStart('dea-0'), minimal), undefined, 'optional fields may be absent');
      assert.match(problem(deaStart('dea-0'), { ...START, droplet: '' }) ?? '', /^droplet:/);
      assert.match(problem(deaStart('dea-0'), { ...START, index: '0' }) ?? '', /^index:/);
      assert.match(problem(deaStart('dea-0'), { ...START, executableUri: undefined }) ?? '', /^executableUri:/);
      assert.match(problem(deaStart('dea-0'), { ...START, limits: { mem: '256' } }) ?? '', /^limits\.mem:/);
      assert.match(problem(deaStart('dea-0'), { ...START, health_check_type: 'tcp' }) ?? '', /^health_check_type: expected one of port, http, process, none/);
      assert.match(problem(deaStart('dea-0'), { ...START, services: [{ name: 'db', label: 'p-mysql' }] }) ?? '', /^services\[0\]\.credentials:/);
    });

    it('staging: request and both replies', () => {
      const staging = stagingStart('dea-0');
      assert.equal(problem(staging, STAGING), undefined);
      assert.equal(problem(staging, { app_id: 'a', task_id: 't', package_download_uri: 'p', droplet_upload_uri: 'd' }), undefined);
      assert.match(problem(staging, { ...STAGING, task_id: undefined }) ?? '', /^task_id:/);
      assert.match(problem(staging, { ...STAGING, droplet_upload_uri: '' }) ?? '', /^droplet_upload_uri:/);
      assert.match(problem(staging, { ...STAGING, buildpacks: 'nodejs' }) ?? '', /^buildpacks:/);
      const ok = { task_id: 't', detected_buildpack: 'nodejs', buildpack_name: 'nodejs', start_command: 'npm start', process_types: { web: 'npm start' }, droplet_sha1: 'abc', droplet_size: 10 };
      assert.equal(staging.reply.problem(ok), undefined);
      assert.equal(staging.reply.problem({ task_id: 't', error: { id: 'NoAppDetectedError', message: 'An app was not successfully detected' } }), undefined);
      assert.match(staging.reply.problem({ task_id: 't', error: { id: 'StagingError' } }) ?? '', /^error\.message:/, 'an error reply is judged as one');
      assert.match(staging.reply.problem({ ...ok, process_types: undefined }) ?? '', /^process_types:/);
    });

    it('stop, update, find.droplet and its reply', () => {
      assert.equal(problem(deaStop, { droplet: 'a' }), undefined);
      assert.equal(problem(deaStop, { droplet: 'a', version: 'v', instances: ['i'], indices: [0, 2] }), undefined);
      assert.match(problem(deaStop, { droplet: 'a', indices: ['0'] }) ?? '', /^indices\[0\]:/);
      assert.equal(problem(deaUpdate, { droplet: 'a', uris: [] }), undefined);
      assert.match(problem(deaUpdate, { droplet: 'a' }) ?? '', /^uris:/);
      assert.equal(problem(deaFindDroplet, { droplet: 'a', include_stats: true }), undefined);
      assert.match(problem(deaFindDroplet, { droplet: 'a', states: ['DANCING'] }) ?? '', /^states\[0\]:/);
      const reply = { dea: 'dea-0', droplet: 'a', version: 'v', instance: 'i', index: 0, state: 'RUNNING', state_timestamp: 1.5 };
      const stats = { name: 'myapp', uris: [], host: '127.0.0.1', port: 61001, uptime: 3, mem_quota: 1, disk_quota: 1, fds_quota: 1, usage: { cpu: 0.1, mem: 1, disk: 1, time: 'now' } };
      assert.equal(deaFindDroplet.reply.problem(reply), undefined);
      assert.equal(deaFindDroplet.reply.problem({ ...reply, stats }), undefined);
      assert.match(deaFindDroplet.reply.problem({ ...reply, stats: { ...stats, usage: {} } }) ?? '', /^stats\.usage\.cpu:/);
    });

    it('advertise: what placement needs', () => {
      const ad = { id: 'dea-0', stacks: ['host'], available_memory: 4096, available_disk: 16384, app_id_to_count: { a: 2 }, placement_properties: { zone: 'default' } };
      assert.equal(problem(deaAdvertise, ad), undefined);
      assert.match(problem(deaAdvertise, { ...ad, id: '' }) ?? '', /^id:/);
      assert.match(problem(deaAdvertise, { ...ad, app_id_to_count: { a: 'two' } }) ?? '', /^app_id_to_count\.a:/);
    });
  });

  describe('health manager', () => {
    const entry = { droplet: 'A', version: 'v1', instance: 'i0', index: 0, state: 'RUNNING', state_timestamp: 1 };
    const exit = { droplet: 'A', version: 'v1', instance: 'x', index: 0, reason: 'CRASHED', exit_status: 1, exit_description: 'app instance exited', crash_timestamp: 2 };

    it('a heartbeat with one unusable entry is refused whole, as hm9000 refused it', () => {
      assert.equal(problem(deaHeartbeat, { dea: 'dea-0', droplets: [entry] }), undefined);
      assert.equal(problem(deaHeartbeat, { dea: 'dea-0', droplets: [] }), undefined);
      assert.match(problem(deaHeartbeat, { dea: 'dea-0', droplets: 'nope' }) ?? '', /^droplets:/);
      assert.match(problem(deaHeartbeat, { droplets: [] }) ?? '', /^dea:/);
      for (const [bad, field] of [
        [{ ...entry, index: -1 }, 'index'],
        [{ ...entry, instance: undefined }, 'instance'],
        [{ ...entry, state: 'DANCING' }, 'state'],
      ] as const) {
        assert.match(problem(deaHeartbeat, { dea: 'dea-0', droplets: [entry, bad] }) ?? '', new RegExp(`^droplets\\[1\\]\\.${field}:`));
      }
      assert.match(problem(deaHeartbeat, { dea: 'dea-0', droplets: [null] }) ?? '', /^droplets\[0\]: expected an object/);
    });

    it('droplet.exited, health.start and health.stop', () => {
      assert.equal(problem(dropletExited, exit), undefined);
      assert.match(problem(dropletExited, { droplet: 'A', instance: 'x' }) ?? '', /^version:|^index:/);
      assert.match(problem(dropletExited, { ...exit, reason: 'BORED' }) ?? '', /^reason: expected one of CRASHED, STOPPED, DEA_SHUTDOWN, DEA_EVACUATION/);
      assert.equal(problem(healthStart, { droplet: 'A', version: 'v1', indices: [1], reason: 'CRASHED', crash_count: 4 }), undefined);
      assert.match(problem(healthStart, { droplet: 'A', version: 'v1', indices: [1.5], reason: 'MISSING' }) ?? '', /^indices\[0\]:/);
      assert.equal(problem(healthStop, { droplet: 'A', version: 'v1', instances: ['i'], reason: 'EXTRA' }), undefined);
      assert.match(problem(healthStop, { droplet: 'A', version: 'v1', instances: [''], reason: 'EXTRA' }) ?? '', /^instances\[0\]:/);
    });
  });

  describe('logs, components, MySQL service', () => {
    it('log envelopes', () => {
      const line = { timestamp: 1, app_guid: 'app-1', source_type: 'APP/PROC/WEB', source_instance: '0', message_type: 'OUT', message: 'hi' };
      assert.equal(problem(appLogs('app-1'), line), undefined);
      assert.match(problem(appLogs('app-1'), { ...line, app_guid: 'a.b' }) ?? '', /^app_guid:/);
      assert.match(problem(appLogs('app-1'), { ...line, source_instance: 0 }) ?? '', /^source_instance:/);
    });

    it('component announcements', () => {
      const a = { type: 'DEA', index: 0, uuid: 'u', host: '127.0.0.1:4000', credentials: ['devbox', 'pw'], start: 'now', uptime: '0d:0h:0m:1s', pid: 1 };
      assert.equal(componentDiscover.reply.problem(a), undefined);
      assert.match(componentDiscover.reply.problem({ ...a, host: '' }) ?? '', /^host:/);
    });

    it('MyaaS announcements, requests and replies', () => {
      const a = { id: 'mysql-node-0', plan: 'small', supported_versions: ['10.11'], available_capacity: 48, capacity_unit: 1, host: '127.0.0.1', port: 41234 };
      assert.equal(problem(myaasAnnounce, a), undefined);
      assert.match(problem(myaasAnnounce, { ...a, available_capacity: '48' }) ?? '', /^available_capacity:/);
      assert.match(problem(myaasAnnounce, { ...a, capacity_unit: 0 }) ?? '', /^capacity_unit:/);
      assert.equal(problem(myaasRequest('provision', 'n'), { plan: 'small', version: '10.11', name: 'cf_x' }), undefined);
      assert.match(problem(myaasRequest('provision', 'n'), { name: 'cf_x' }) ?? '', /^plan:/);
      assert.equal(problem(myaasRequest('bind', 'n'), { name: 'cf_x', binding_id: 'b', bind_opts: {} }), undefined);
      assert.match(problem(myaasRequest('bind', 'n'), { name: 'cf_x', binding_id: '' }) ?? '', /^binding_id:/);
      assert.equal(problem(myaasRequest('unbind', 'n'), { credentials: { name: 'cf_x', username: 'u1' } }), undefined);
      assert.match(problem(myaasRequest('unbind', 'n'), { credentials: {} }) ?? '', /^credentials\.username:/);
      assert.equal(problem(myaasRequest('unprovision', 'n'), { name: 'cf_x', bindings: [{ username: 'u1' }] }), undefined);
      assert.equal(problem(myaasRequest('purge_orphan', 'n'), { databases: [], users: [] }), undefined);
      const reply = myaasRequest('bind', 'n').reply;
      assert.equal(reply.problem({ success: true, credentials: { name: 'cf_x', port: 3306 } }), undefined);
      assert.equal(reply.problem({ success: false, error: { code: 400, description: 'no' } }), undefined);
      assert.match(reply.problem({ credentials: {} }) ?? '', /^success:/);
      assert.equal(myaasCheckOrphan.reply.problem({ node_id: 'n', databases: ['cf_x'], users: [] }), undefined);
      assert.equal(myaasCheckOrphan.reply.problem({ success: false, error: { code: 500, description: 'down' } }), undefined);
      assert.ok(myaasCheckOrphan.reply.problem({ node_id: 'n' }));
    });
  });

  for (const kind of ['embedded', 'nats-server'] as ServerKind[]) {
    describe(`on a real bus (${kind})`, function () {
      this.timeout(15_000);
      let server: TestServer;
      let nc: NatsConnection;
      let lines: string[];
      const log = () => createLogger('test', { write: (line) => void lines.push(line) });
      const warnings = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 'warn');

      beforeEach(async () => {
        lines = [];
        server = await startTestServer(kind);
        nc = await connect({ servers: server.url });
      });

      afterEach(async () => {
        await nc?.close();
        await server?.stop();
      });

      it('a malformed message is logged and dropped; the well-formed one after it is delivered', async () => {
        const delivered: unknown[] = [];
        const rejected: string[] = [];
        subscribe(nc, deaStop, (message) => void delivered.push(message), { log: log(), rejected: (reason) => void rejected.push(reason) });
        await nc.flush();
        nc.publish('dea.stop', new TextEncoder().encode('{not json'));
        nc.publish('dea.stop', new TextEncoder().encode(JSON.stringify({ droplet: 42, password: 'hunter2' })));
        publish(nc, deaStop, { droplet: 'app-1', indices: [0] });
        await waitFor('the well-formed message', () => delivered.length === 1, { timeoutMs: 5_000 });
        assert.deepEqual(delivered, [{ droplet: 'app-1', indices: [0] }]);
        assert.deepEqual(rejected, ['not JSON', 'droplet: expected a non-empty string']);
        const said = warnings();
        assert.equal(said.length, 1, 'said once, not once per message');
        assert.equal(said[0].msg, 'dropped a malformed message');
        assert.equal(said[0].subject, 'dea.stop');
        assert.equal(said[0].reason, 'not JSON');
        assert.doesNotMatch(lines.join(''), /hunter2/);
      });

      it('request: a malformed reply is a MalformedReply; requestMany skips it; nobody answering yields nothing', async () => {
        const responder = await connect({ servers: server.url });
        try {
          const start = { id: 'r', hosts: ['127.0.0.1'], minimumRegisterIntervalInSeconds: 20, pruneThresholdInSeconds: 120 };
          const sub = subscribe(responder, routerGreet, (_body, msg) => respond(responder, msg, routerGreet, start), { log: log() });
          await responder.flush();
          assert.deepEqual(await request(nc, routerGreet, undefined, { timeout: 2_000 }), start);
          sub.unsubscribe();
          responder.subscribe('router.greet', { callback: (_err, msg) => msg.respond(new TextEncoder().encode('{"id":"r","hosts":[]}')) });
          await responder.flush();
          await assert.rejects(request(nc, routerGreet, undefined, { timeout: 2_000 }), (error: unknown) => error instanceof MalformedReply && /minimumRegisterIntervalInSeconds/.test(error.reason));

          const good = { type: 'DEA', index: 0, uuid: 'u', host: '127.0.0.1:1', credentials: ['u', 'p'], start: 'now', uptime: '0s' };
          responder.subscribe('vcap.component.discover', { callback: (_err, msg) => msg.respond(new TextEncoder().encode(JSON.stringify({ type: 'DEA' }))) });
          subscribe(responder, componentDiscover, (_body, msg) => respond(responder, msg, componentDiscover, good), { log: log() });
          await responder.flush();
          const found = [];
          for await (const a of requestMany(nc, componentDiscover, undefined, { log: log(), maxWait: 500 })) found.push(a);
          assert.deepEqual(found, [good]);
          assert.equal(warnings().filter((w) => w.msg === 'dropped a malformed reply').length, 1);

          const none = [];
          for await (const reply of requestMany(nc, myaasCheckOrphan, {}, { log: log(), maxWait: 300 })) none.push(reply);
          assert.deepEqual(none, []);
        } finally {
          await responder.close();
        }
      });
    });
  }
});
