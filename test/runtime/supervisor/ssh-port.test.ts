// The ssh proxy's port at `up` (chooseSshPort): the user's choice must be free; without one,
// Cloud Foundry's 2222 when it is free, else any free port (cf learns the port from `GET /`).
import assert from 'node:assert/strict';
import net from 'node:net';
import { DEFAULT_SSH_PORT } from '../../../src/runtime/common/config.js';
import { bindProblem, chooseSshPort } from '../../../src/runtime/supervisor/supervisor.js';

describe('chooseSshPort', () => {
  const free = async () => undefined;
  const fallback = async () => 40_001;

  it('takes 2222 when nobody asked for a port and it is free', async () => {
    assert.equal(await chooseSshPort(undefined, new Set(), free, fallback), DEFAULT_SSH_PORT);
  });

  it('takes any free port when 2222 is in use or one of the box\'s own, and when 0 is asked for', async () => {
    assert.equal(await chooseSshPort(undefined, new Set(), async () => 'is already in use', fallback), 40_001);
    assert.equal(await chooseSshPort(undefined, new Set([DEFAULT_SSH_PORT]), free, fallback), 40_001);
    assert.equal(await chooseSshPort(0, new Set(), free, fallback), 40_001);
  });

  it('refuses a chosen port that is in use, naming the flag', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await assert.rejects(chooseSshPort(port, new Set(), (p) => bindProblem('127.0.0.1', p), fallback), new RegExp(`port ${port} \\(ssh, for ssh-proxy\\) .*--ssh-port`));
      await assert.rejects(chooseSshPort(8080, new Set([8080]), free, fallback), /taken by another of the box's ports/);
    } finally {
      server.close();
    }
  });
});
