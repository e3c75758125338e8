// The pieces of `devbox ssh` that need no box (the whole is test/e2e/ssh.test.ts): -L specs read as
// cf and OpenSSH read them, cf's rule for when a session gets a pty, and the proxy's user names.
import assert from 'node:assert/strict';
import { parseLocalForward, wantsPty } from '../../src/cli/ssh-session.js';
import { parseUsername } from '../../src/runtime/ssh-proxy/authorizer.js';

describe('devbox ssh', () => {
  it('reads -L as [BIND_ADDRESS:]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT and says how when it cannot', () => {
    assert.deepEqual(parseLocalForward('9000:localhost:5432'), { bindAddress: 'localhost', localPort: 9000, remoteHost: 'localhost', remotePort: 5432 });
    assert.deepEqual(parseLocalForward('0.0.0.0:9000:10.0.0.5:80'), { bindAddress: '0.0.0.0', localPort: 9000, remoteHost: '10.0.0.5', remotePort: 80 });
    assert.throws(() => parseLocalForward('9000:localhost'), /Use \[BIND_ADDRESS:\]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT/);
    assert.throws(() => parseLocalForward('x:localhost:80'), /'x' is not a port/);
    assert.throws(() => parseLocalForward('9000:localhost:70000'), /'70000' is not a port/);
  });

  it("allocates a pty as cf does: for a shell at a terminal, on -t at a terminal, always when forced, never on -T", () => {
    assert.equal(wantsPty('auto', false, true), true);
    assert.equal(wantsPty('auto', true, true), false);
    assert.equal(wantsPty('auto', false, false), false);
    assert.equal(wantsPty('yes', true, true), true);
    assert.equal(wantsPty('yes', true, false), false);
    assert.equal(wantsPty('force', true, false), true);
    assert.equal(wantsPty('no', false, true), false);
  });

  it('the proxy takes cf:<process guid>/<index> and nothing else', () => {
    assert.deepEqual(parseUsername('cf:0b4e3a5c-0000-4000-8000-000000000001/2'), { processGuid: '0b4e3a5c-0000-4000-8000-000000000001', index: 2 });
    for (const bad of ['root', 'cf:guid', 'cf:guid/-1', 'cf:../x/0', 'diego:guid/0', 'cf:guid/0/1']) assert.equal(parseUsername(bad), undefined, bad);
  });
});
