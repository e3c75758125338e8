// The DEA as `devbox up` runs it: a child of the real supervisor, with a uaa token of the
// components client, a package from the real controller, and an instance reached through the real
// router. Needs the built executable (`npm run build`).
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { embeddedBusUrl, parseNatsUrl } from '../../../src/runtime/common/bus.js';
import { loadConfig, readPorts, statePaths } from '../../../src/runtime/common/config.js';
import { freePort, isListening, waitFor } from '../../../src/runtime/common/net.js';
import { decodeProtectedHeader, decodeJwt } from 'jose';
import { boxApi, type BoxApi } from '../../helpers/api.js';
import { uploadBody } from '../../helpers/archives.js';
import { cleanupBox, devbox, tempHome } from '../../helpers/devbox.js';
import { request } from '../../../src/runtime/common/http.js';
import { FIXTURES, packageOf, Recorder } from './helpers.js';

describe('dea through devbox up', function () {
  this.timeout(60_000);
  let home: string;
  let routerPort: number;
  let box: BoxApi;
  let nc: NatsConnection;
  let rec: Recorder;
  const droplets = new Map<string, Buffer>();
  const authorizations: string[] = [];
  // Stands in for the droplet endpoints only (the package comes from the real controller).
  const dropletServer = http.createServer((req, res) => {
    authorizations.push(req.headers.authorization ?? '');
    const m = /^\/droplets\/([^/]+)$/.exec(req.url ?? '');
    if (m && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        droplets.set(m[1], Buffer.concat(chunks));
        res.writeHead(201).end('{}');
      });
    } else if (m && droplets.has(m[1])) res.writeHead(200).end(droplets.get(m[1]));
    else res.writeHead(404).end();
  });
  let dropletPort = 0;

  before(async () => {
    home = tempHome('devbox-dea-');
    routerPort = await freePort();
    // The health manager is kept blind (no desired state: it decides nothing), so that it does not
    // stop the instance this test starts behind the controller's back.
    const env = { DEVBOX_DEA_ADVERTISE_MS: '250', DEVBOX_DEA_HEARTBEAT_MS: '250', DEVBOX_HEALTH_API_URL: 'http://127.0.0.1:9' };
    const up = await devbox(home, ['up', '-d', '--port', String(routerPort)], { env });
    assert.equal(up.exitCode, 0, up.stdout + up.stderr);
    const paths = statePaths(home);
    const config = loadConfig(paths);
    const ports = readPorts(paths)!;
    const address = parseNatsUrl(embeddedBusUrl(ports.bus_port!, config.bus.token));
    nc = await connect({ servers: address.servers, token: address.token });
    rec = new Recorder(nc);
    await new Promise<void>((resolve) => dropletServer.listen(0, '127.0.0.1', () => resolve()));
    dropletPort = (dropletServer.address() as { port: number }).port;
    box = await boxApi(home, routerPort);
  });
  after(async () => {
    await nc?.close().catch(() => undefined);
    dropletServer.close();
    await cleanupBox(home);
  });

  it('is listed healthy and advertises itself as dea-0', async () => {
    const status = await devbox(home, ['status', '--json']);
    const dea = (JSON.parse(status.stdout) as { components: { name: string; healthy: boolean }[] }).components.find((c) => c.name === 'dea');
    assert.ok(dea, status.stdout);
    assert.equal(dea.healthy, true);
    const adv = await rec.wait('dea.advertise', (d) => d.id === 'dea-0', 5_000);
    assert.ok(adv.data.available_memory > 0);
  });

  it('stages a package of the real controller with a components token, and runs it behind the router', async () => {
    const space = (await box.call('GET', '/v3/spaces?names=dev')).json().resources[0];
    const app = (await box.call('POST', '/v3/apps', { name: 'dea-box-app', relationships: { space: { data: { guid: space.guid } } } })).json();
    const pkg = (await box.call('POST', '/v3/packages', { type: 'bits', relationships: { app: { data: { guid: app.guid } } } })).json();
    const { body, contentType } = uploadBody([], await packageOf(path.join(FIXTURES, 'node-hello')));
    const uploaded = await request({ url: `${box.api}/v3/packages/${pkg.guid}/upload`, method: 'POST', headers: { authorization: `bearer ${box.token}`, 'content-type': contentType }, body });
    assert.equal(uploaded.status, 200, uploaded.text);

    const reply = await nc.request(
      'staging.dea-0.start',
      JSON.stringify({
        app_id: app.guid,
        task_id: 'box-task',
        package_guid: pkg.guid,
        droplet_guid: 'box-droplet',
        package_download_uri: `${box.api}/v3/packages/${pkg.guid}/download`,
        droplet_upload_uri: `http://127.0.0.1:${dropletPort}/droplets/box-droplet`,
        buildpacks: [],
        environment: {},
        start_command: null,
        memory_limit: 256,
        disk_limit: 1024,
        stack: 'host',
      }),
      { timeout: 30_000 },
    );
    const staged = JSON.parse(Buffer.from(reply.data).toString()) as { error?: unknown; start_command: string; droplet_sha1: string };
    assert.equal(staged.error, undefined, JSON.stringify(staged));
    assert.equal(staged.start_command, 'npm start');
    // The DEA authenticated as the components client.
    const token = authorizations[0].replace(/^bearer /, '');
    assert.equal(decodeProtectedHeader(token).alg, 'RS256');
    assert.equal(decodeJwt(token).client_id, loadConfig(statePaths(home)).uaa.components_client.id);

    nc.publish(
      'dea.dea-0.start',
      JSON.stringify({
        droplet: app.guid,
        version: 'v1',
        name: 'dea-box-app',
        index: 0,
        uris: ['dea-box-app.localhost'],
        limits: { mem: 256, disk: 1024, fds: 16384 },
        env: {},
        services: [],
        start_command: staged.start_command,
        health_check_type: 'port',
        health_check_timeout: 30,
        vcap_application: {},
        executableUri: `http://127.0.0.1:${dropletPort}/droplets/box-droplet`,
        sha1: staged.droplet_sha1,
      }),
    );
    const reg = await rec.wait('router.register', (d) => d.app === app.guid, 20_000);
    const url = `http://dea-box-app.localhost:${routerPort}/`;
    const res = await request({ url, routeWaitMs: 5_000 });
    assert.equal(res.status, 200, res.text);
    assert.match(res.text, /hello from node-hello, instance 0/);

    // `devbox down`: the DEA stops the instance (DEA_SHUTDOWN) before it goes.
    const down = await devbox(home, ['down']);
    assert.equal(down.exitCode, 0, down.stdout + down.stderr);
    await waitFor('the instance port closed', async () => !(await isListening(reg.data.port)), { timeoutMs: 10_000 });
    // The DEA stops before the bus does, so its last words reach us.
    assert.equal(rec.find('droplet.exited', (d) => d.droplet === app.guid)[0]?.data.reason, 'DEA_SHUTDOWN');
  });
});
