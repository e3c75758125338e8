// Redis as a service through a whole box, driven by the real cf CLI as PCF Dev's users drove p-redis:
// the marketplace offers it, `cf create-service p-redis shared-vm … --wait` makes an instance (a
// redis-server of its own, run by the redis-node), an app bound through its manifest sets and gets
// keys through VCAP_SERVICES, another instance's password reads nothing of it, and `cf
// delete-service` leaves no redis-server behind, nor does `devbox down`. One box for the file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { request } from '../../src/runtime/common/http.js';
import { waitFor } from '../../src/runtime/common/poll.js';
import { redisCommands, RespError } from '../../src/runtime/redis-node/resp.js';
import { readBox, varz } from '../helpers/box-probe.js';
import { startCfBox, type CfBox } from '../helpers/cf.js';
import { devbox } from '../helpers/devbox.js';
import { asClient, isRunning, serversUnder, type Credentials } from '../runtime/redis-node/helpers.js';

/** An app without npm packages: RESP over a socket, a few lines, with its binding's credentials. */
const APP_JS = String.raw`
const http = require('http');
const net = require('net');
const binding = (JSON.parse(process.env.VCAP_SERVICES || '{}')['p-redis'] || [])[0];

// AUTH, the command, QUIT: the server answers each and closes; the second answer is the command's.
function redis(args) {
  const { host, port, password } = binding.credentials;
  const encode = (a) => '*' + a.length + '\r\n' + a.map((x) => '$' + Buffer.byteLength(x) + '\r\n' + x + '\r\n').join('');
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = net.connect(port, host, () => socket.write(encode(['AUTH', password]) + encode(args) + encode(['QUIT'])));
    socket.on('data', (d) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const lines = text.split('\r\n');
      if (lines[0] !== '+OK') return reject(new Error('AUTH: ' + lines[0]));
      const reply = lines[1];
      if (reply[0] === '-') return reject(new Error(reply.slice(1)));
      resolve(reply === '$-1' ? null : reply[0] === '$' ? lines[2] : reply.slice(1));
    });
  });
}

http
  .createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    try {
      if (!binding) throw new Error('no p-redis binding');
      const key = url.searchParams.get('key');
      const answer = url.pathname === '/set' ? await redis(['SET', key, url.searchParams.get('value')]) : await redis(['GET', key]);
      res.end(JSON.stringify({ answer }));
    } catch (error) {
      res.statusCode = 500;
      res.end('error: ' + error.message + '\n');
    }
  })
  .listen(Number(process.env.PORT) || 8080);
`;

describe('Redis as a service with the real cf CLI (real broker, node and redis-servers)', function () {
  this.timeout(120_000);
  let box: CfBox;
  let app: string;
  let r1: Credentials;
  let r1Guid: string;

  const visit = async (urlPath: string) => {
    const res = await request({ url: `http://redisapp.localhost:${box.port}${urlPath}`, timeoutMs: 10_000, routeWaitMs: 10_000 });
    assert.equal(res.status, 200, res.text);
    return (JSON.parse(res.text) as { answer: unknown }).answer;
  };
  const key = async (instance: string, name: string): Promise<Credentials> => {
    await box.cf.ok(['create-service-key', instance, name]);
    const out = await box.cf.ok(['service-key', instance, name]);
    const parsed = JSON.parse(out.slice(out.indexOf('{'))) as Credentials | { credentials: Credentials };
    return 'credentials' in parsed ? parsed.credentials : parsed;
  };
  const redisServers = async () => {
    const node = await varz<{ servers: Array<{ name: string; pid: number; port: number }> }>(readBox(box.home), 'redis-node');
    return node?.servers ?? [];
  };

  before(async function () {
    this.timeout(180_000);
    box = await startCfBox({ prefix: 'devbox-redis-' });
    await box.cf.login();
    app = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-redis-app-'));
    fs.writeFileSync(path.join(app, 'server.js'), APP_JS);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'redisapp', version: '1.0.0', private: true, scripts: { start: 'node server.js' } }));
    fs.writeFileSync(path.join(app, 'manifest.yml'), 'applications:\n- name: redisapp\n  memory: 64M\n  services: [r1]\n');
  });
  after(async function () {
    this.timeout(60_000);
    if (app) fs.rmSync(app, { recursive: true, force: true });
    if (!box) return;
    const down = await devbox(box.home, ['down'], { timeoutMs: 30_000 });
    const left = serversUnder(box.home);
    for (const pid of left) process.kill(pid, 'SIGKILL');
    await box.close();
    assert.equal(down.exitCode, 0, down.stdout + down.stderr);
    assert.deepEqual(left, [], '`devbox down` left no redis-server');
  });

  it('cf marketplace offers p-redis; cf create-service --wait makes r1; an app bound through its manifest sets and gets a key through the router', async () => {
    // The gateway registers its broker in the background once the box is up: bounded, it is listed.
    const listed = await waitFor('p-redis in the marketplace', async () => {
      const out = await box.cf.ok(['marketplace']);
      return /p-redis\s+shared-vm\s+Redis service to provide a key-value store/.test(out) && out;
    }, { timeoutMs: 30_000, intervalMs: 500 });
    assert.match(listed, /p-redis\s+shared-vm/);
    assert.equal((await redisServers()).length, 0, 'no redis-server before an instance exists');

    assert.match(await box.cf.ok(['create-service', 'p-redis', 'shared-vm', 'r1', '--wait']), /Service instance r1 created\.\nOK/);
    r1Guid = (await box.cf.ok(['service', 'r1', '--guid'])).trim();
    const [server] = await redisServers();
    assert.equal(server.name, r1Guid);

    await box.cf.ok(['push', '-f', path.join(app, 'manifest.yml'), '-p', app]);
    assert.deepEqual(await visit('/set?key=greeting&value=hello%20redis'), 'OK');
    assert.equal(await visit('/get?key=greeting'), 'hello redis');
    const env = await box.cf.ok(['env', 'redisapp']);
    assert.match(env, /"p-redis"/);
    assert.doesNotMatch(env, /node_id|redis-node/, 'nothing of devbox\'s own in VCAP_SERVICES');
  });

  it("gives each instance its own server and password: a second instance's password reads nothing of the first's", async () => {
    assert.match(await box.cf.ok(['create-service', 'p-redis', 'shared-vm', 'r2', '--wait']), /created/);
    r1 = await key('r1', 'k1');
    const r2 = await key('r2', 'k2');
    assert.deepEqual(Object.keys(r1).sort(), ['host', 'password', 'port', 'uri']);
    assert.notEqual(r1.port, r2.port);
    assert.deepEqual(await asClient(r1, ['GET', 'greeting']), ['hello redis'], 'the app wrote into r1');
    const [wrong] = await redisCommands({ host: r1.host, port: r1.port }, [['AUTH', r2.password], ['GET', 'greeting']]);
    assert.ok(wrong instanceof RespError && /WRONGPASS/.test(wrong.message), String(wrong));
    assert.deepEqual(await asClient(r2, ['GET', 'greeting'], ['KEYS', '*']), [null, []], "r2's server holds nothing of r1's");
  });

  it("cf delete-service -f --wait stops the instance's redis-server and removes its data", async () => {
    const server = (await redisServers()).find((s) => s.name === r1Guid)!;
    assert.ok(isRunning(server.pid));
    const bound = await box.cf.run(['delete-service', 'r1', '-f', '--wait']);
    assert.notEqual(bound.exitCode, 0, 'refused while bound');
    await box.cf.ok(['unbind-service', 'redisapp', 'r1']);
    await box.cf.ok(['delete-service-key', 'r1', 'k1', '-f']);
    assert.match(await box.cf.ok(['delete-service', 'r1', '-f', '--wait']), /OK/);
    assert.ok(!isRunning(server.pid), "r1's redis-server is gone");
    assert.equal((await redisServers()).some((s) => s.name === r1Guid), false);
    assert.equal(fs.existsSync(path.join(box.home, 'redis', 'node-0', 'instances', r1Guid)), false, "r1's data is gone");
    const refused = await redisCommands({ host: r1.host, port: r1.port }, [['PING']]).then(
      () => 'answered',
      (error: Error) => error.message,
    );
    assert.match(refused, /ECONNREFUSED/);
    assert.equal(serversUnder(box.home).length, 1, 'only r2 runs');
  });
});
