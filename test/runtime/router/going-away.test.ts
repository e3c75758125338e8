// An instance that is going away (a stop, a rolling deployment's old instance) may take a request
// and close its connection before answering: the router tries another endpoint for a request that
// is safe to repeat, as gorouter does, and a request that is not (a POST) gets 502 and is not sent
// again.
import assert from 'node:assert/strict';
import net from 'node:net';
import { BAD_GATEWAY_BODY } from '../../../src/runtime/router/proxy.js';
import { registration, request, startBackend, startRouter, type Backend, type TestRouter } from './helpers.js';

describe('router: an endpoint that closes before it answers', function () {
  this.timeout(20_000);
  let router: TestRouter;
  let closing: net.Server;
  let closingPort: number;
  let accepted = 0;
  const backends: Backend[] = [];

  beforeEach(async () => {
    router = await startRouter();
    accepted = 0;
    // Reads the request, then closes without a byte of response (an app that exits on SIGTERM).
    closing = net.createServer((socket) => {
      accepted++;
      socket.once('data', () => socket.destroy());
    });
    await new Promise<void>((resolve) => closing.listen(0, '127.0.0.1', resolve));
    closingPort = (closing.address() as net.AddressInfo).port;
  });
  afterEach(async () => {
    await router.close();
    await new Promise((resolve) => closing.close(resolve));
    await Promise.all(backends.splice(0).map((b) => b.close()));
  });

  it('sends a GET to another endpoint: the client gets the answer, not a 502', async () => {
    const live = await startBackend('live');
    backends.push(live);
    router.register(registration({ port: closingPort }, ['app.localhost']));
    router.register(registration(live, ['app.localhost']));
    for (let i = 0; i < 10; i++) {
      const res = await request(router.port);
      assert.equal(res.status, 200, res.text);
    }
    assert.ok(accepted >= 1, 'the closing endpoint was tried');
    assert.equal(live.requests.length, 10);
    assert.equal(router.router.stats.snapshot().bad_gateways, 0);
  });

  it('answers a POST 502 and does not send it again (it may have been acted on)', async () => {
    router.register(registration({ port: closingPort }, ['app.localhost']));
    const res = await request(router.port, { method: 'POST', body: 'pay once' });
    assert.equal(res.status, 502);
    assert.equal(res.text, BAD_GATEWAY_BODY);
    assert.equal(accepted, 1);
  });
});
