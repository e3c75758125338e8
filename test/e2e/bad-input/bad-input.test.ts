// Bad input, end to end (issue #8): hostile manifests, archives, uploads, API bodies, names and
// guids, random bytes at the bus, the router and the broker, and hostile apps, all against one real
// box (`devbox up -d`). Each gets a clear error or is contained, and after each the box is checked
// whole: every component healthy and not restarted, a canary app answering through the router.
// docs/bad-input.md lists each input and devbox's answer.
import { apiWrites } from './api.js';
import { hostileApps } from './apps.js';
import { startBox, type BadInputBox } from './box.js';
import { manifests } from './manifests.js';
import { uploads } from './uploads.js';
import { wire } from './wire.js';

describe('bad input (issue #8)', function () {
  this.timeout(60_000);
  let box: BadInputBox | undefined;
  const get = (): BadInputBox => {
    if (!box) throw new Error('the box did not start (see the before all hook)');
    return box;
  };

  before(async function () {
    this.timeout(120_000);
    box = await startBox();
  });
  after(async function () {
    this.timeout(60_000);
    await box?.stop();
  });

  manifests(get);
  apiWrites(get);
  uploads(get);
  wire(get);
  hostileApps(get);
});
