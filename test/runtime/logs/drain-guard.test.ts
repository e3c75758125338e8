// Where a drain may connect: blocked ranges (Loggregator's BLACKLISTED_SYSLOG_RANGES), and never a
// socket of the box itself, told from /proc (a listener in this process is the box's when the box is
// this process's tree; a listener in a child process that is not under the box's root is not).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import { waitFor } from '../../../src/runtime/common/poll.js';
import { DrainGuard, inRange, ip16, isLocalAddress, listeningInodes, parseIpRanges } from '../../../src/runtime/logs/drain-guard.js';

describe('syslog drains: where a drain may connect', function () {
  this.timeout(20_000);
  const servers: net.Server[] = [];
  const children: ChildProcess[] = [];
  const listen = async (host = '127.0.0.1') => {
    const server = net.createServer((s) => s.destroy());
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
    return (server.address() as AddressInfo).port;
  };
  /** A node process of its own that listens on a loopback port and says which. */
  const childListener = async (): Promise<{ child: ChildProcess; port: number }> => {
    const child = spawn(process.execPath, ['-e', "const s=require('net').createServer(c=>c.destroy()).listen(0,'127.0.0.1',()=>console.log(s.address().port));setInterval(()=>{},1e6)"], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    const port = await waitFor('the child to listen', () => (/^\d+\n/.test(out) ? Number(out.trim()) : undefined), { timeoutMs: 10_000 });
    return { child, port };
  };
  after(async () => {
    for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('reads blocked ranges as Loggregator does, and refuses nonsense saying what to write', () => {
    assert.deepEqual(parseIpRanges(''), []);
    assert.deepEqual(parseIpRanges('10.0.0.0-10.255.255.255, 192.168.0.1-192.168.0.9'), [
      { start: '10.0.0.0', end: '10.255.255.255' },
      { start: '192.168.0.1', end: '192.168.0.9' },
    ]);
    assert.throws(() => parseIpRanges('10.0.0.0'), /'10\.0\.0\.0' is not a range; write START-END/);
    assert.throws(() => parseIpRanges('10.0.0.x-10.0.0.9'), /'10\.0\.0\.x' is not an IP address/);
    assert.throws(() => parseIpRanges('10.0.0.9-10.0.0.1'), /the start comes after the end/);
  });

  it('compares addresses of both families as Go’s 16-byte form', () => {
    assert.equal(ip16('127.0.0.1').toString('hex'), '00000000000000000000ffff7f000001');
    assert.equal(ip16('::ffff:127.0.0.1').toString('hex'), '00000000000000000000ffff7f000001');
    assert.equal(ip16('::1').toString('hex'), '00000000000000000000000000000001');
    assert.equal(ip16('fe80::1:2').toString('hex'), 'fe800000000000000000000000010002');
    assert.ok(inRange('10.1.2.3', { start: '10.0.0.0', end: '10.255.255.255' }));
    assert.ok(!inRange('11.0.0.0', { start: '10.0.0.0', end: '10.255.255.255' }));
    assert.ok(inRange('fd00::5', { start: 'fd00::', end: 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' }));
    for (const local of ['127.0.0.1', '127.9.9.9', '0.0.0.0', '::1', '::', '::ffff:127.0.0.1']) assert.ok(isLocalAddress(local), local);
    assert.ok(!isLocalAddress('192.0.2.1'), 'TEST-NET-1 is nobody’s here');
  });

  it('refuses blocked ranges and names it; resolves *.localhost to loopback; says when a name does not resolve', async () => {
    const guard = new DrainGuard({
      blockedRanges: parseIpRanges('192.0.2.0-192.0.2.255'),
      lookup: async (host) => {
        if (host === 'logs.example.com') return { address: '192.0.2.7', family: 4 };
        throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      },
    });
    const blocked = await guard.check('logs.example.com', 514);
    assert.ok(!blocked.ok && /192\.0\.2\.7 is in a blocked range \(192\.0\.2\.0-192\.0\.2\.255, DEVBOX_LOGS_DRAIN_BLOCKED_RANGES\)/.test(blocked.reason), JSON.stringify(blocked));
    const unknown = await guard.check('nowhere.invalid', 514);
    assert.ok(!unknown.ok && /cannot resolve nowhere\.invalid \(ENOTFOUND\)/.test(unknown.reason), JSON.stringify(unknown));
    const free = await listen();
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    assert.deepEqual(await guard.check('drain.localhost', free), { ok: true, address: '127.0.0.1', family: 4 });
  });

  it('finds the sockets listening on a port in /proc/net', async () => {
    const port = await listen();
    assert.equal((await listeningInodes(port)).size, 1);
    const port6 = await listen('::1');
    assert.equal((await listeningInodes(port6)).size, 1, 'tcp6 too');
  });

  it('refuses a port the box listens on, and takes one that only another process listens on', async () => {
    const mine = await listen();
    const { child, port: theirs } = await childListener();
    // The box is this test process's tree (the child is under it): both ports are the box's.
    const wholeTree = new DrainGuard({ boxRoot: () => process.pid });
    const refused = await wholeTree.check('127.0.0.1', mine);
    assert.ok(!refused.ok && new RegExp(`port ${mine} on 127\\.0\\.0\\.1 is devbox's own`).test(refused.reason), JSON.stringify(refused));
    assert.ok(!(await wholeTree.check('localhost', theirs)).ok, 'a child of the box is the box');
    // The box is only the child: this process's listener is someone else's, the child's is the box's.
    const childOnly = new DrainGuard({ boxRoot: () => child.pid });
    assert.deepEqual(await childOnly.check('127.0.0.1', mine), { ok: true, address: '127.0.0.1', family: 4 });
    assert.ok(!(await childOnly.check('0.0.0.0', theirs)).ok, 'the wildcard reaches it too');
    // Nothing listening: nothing of the box to protect (the connection will simply fail).
    const nobody = await listen();
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    assert.deepEqual(await wholeTree.check('127.0.0.1', nobody), { ok: true, address: '127.0.0.1', family: 4 });
  });
});
