// The state directory is owner-only (it holds the box's secrets and the apps' files), also when the
// user made it beforehand with a plain `mkdir` (mode 0755 under the usual umask).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureStateDirs, statePaths } from '../../src/runtime/common/config.js';

describe('ensureStateDirs', () => {
  let parent: string;
  beforeEach(() => (parent = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-state-dir-'))));
  afterEach(() => fs.rmSync(parent, { recursive: true, force: true }));

  const mode = (p: string) => fs.statSync(p).mode & 0o777;

  it('makes a new home and its directories 0700', () => {
    const paths = statePaths(path.join(parent, 'home'));
    ensureStateDirs(paths);
    for (const dir of [paths.home, paths.run, paths.db, paths.blobs, paths.dea, paths.mysql, paths.logs]) assert.equal(mode(dir), 0o700, dir);
  });

  it('makes a home made beforehand with mode 0755 owner-only, and keeps what is in it', () => {
    const home = path.join(parent, 'premade');
    fs.mkdirSync(home, { mode: 0o755 });
    fs.chmodSync(home, 0o755); // whatever the umask
    fs.writeFileSync(path.join(home, 'kept.txt'), 'mine');
    assert.equal(mode(home), 0o755);
    ensureStateDirs(statePaths(home));
    assert.equal(mode(home), 0o700);
    assert.equal(fs.readFileSync(path.join(home, 'kept.txt'), 'utf8'), 'mine');
    // A second call finds nothing to change.
    ensureStateDirs(statePaths(home));
    assert.equal(mode(home), 0o700);
  });

  it('tightens a group- or world-writable home too', () => {
    const home = path.join(parent, 'open');
    fs.mkdirSync(home);
    fs.chmodSync(home, 0o777);
    ensureStateDirs(statePaths(home));
    assert.equal(mode(home), 0o700);
  });
});
