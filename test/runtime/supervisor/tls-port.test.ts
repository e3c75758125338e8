// The router's HTTPS port at `up` (chooseTlsPort): a port the user chose must be free, as the
// router's HTTP port must; the default one is used only when free, else the box starts without
// HTTPS and says why. bindProblem tells why a port cannot be had, by trying it.
import assert from 'node:assert/strict';
import net from 'node:net';
import { DEFAULT_TLS_PORT } from '../../../src/runtime/common/config.js';
import { freePort } from '../../../src/runtime/common/net.js';
import { bindProblem, chooseTlsPort } from '../../../src/runtime/supervisor/supervisor.js';

describe('supervisor: the HTTPS port', () => {
  const free = async () => undefined;
  const inUse = async () => 'is already in use';

  it('takes the default port when it is free, and a chosen port when it is free', async () => {
    const asked: number[] = [];
    assert.deepEqual(await chooseTlsPort(undefined, 8080, async (p) => (asked.push(p), undefined)), { port: DEFAULT_TLS_PORT });
    assert.deepEqual(asked, [DEFAULT_TLS_PORT]);
    assert.deepEqual(await chooseTlsPort(9443, 8080, free), { port: 9443 });
  });

  it('0 means no HTTPS, and nothing is tried', async () => {
    assert.deepEqual(await chooseTlsPort(0, 8080, () => assert.fail('no port is tried')), {});
  });

  it('starts without HTTPS, saying why, when the default port cannot be had', async () => {
    assert.deepEqual(await chooseTlsPort(undefined, 8080, inUse), { note: `off: port ${DEFAULT_TLS_PORT} is already in use (choose an HTTPS port with --tls-port)` });
    assert.deepEqual(await chooseTlsPort(undefined, DEFAULT_TLS_PORT, free), { note: `off: port ${DEFAULT_TLS_PORT} is the router's HTTP port (choose an HTTPS port with --tls-port)` });
  });

  it('refuses a chosen port that cannot be had, as the router port is refused', async () => {
    await assert.rejects(chooseTlsPort(9443, 8080, inUse), { message: 'port 9443 (HTTPS, for router) is already in use; free it or choose another with --tls-port (0: no HTTPS)' });
    await assert.rejects(chooseTlsPort(8080, 8080, free), { message: "port 8080 (HTTPS, for router) is also the router's HTTP port; choose another with --tls-port (0: no HTTPS)" });
  });

  it('bindProblem: nothing for a free port, "is already in use" for a taken one', async () => {
    const port = await freePort();
    assert.equal(await bindProblem('127.0.0.1', port), undefined);
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      assert.equal(await bindProblem('127.0.0.1', port), 'is already in use');
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});
