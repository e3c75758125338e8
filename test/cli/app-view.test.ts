// The instance table of `app` and `push`, and cf's byte sizes.
import assert from 'node:assert/strict';
import { stripVTControlCharacters } from 'node:util';
import { instancesTable } from '../../src/cli/app-view.js';
import { byteSize, sinceTime } from '../../src/cli/units.js';

// The header is bold at a terminal.
const plain = (text: string) => stripVTControlCharacters(text);

describe('app view', () => {
  it("prints sizes as cf's bytefmt does", () => {
    assert.deepEqual(
      [0, 512, 1024, 41943040, 42467328, 268435456, 1073741824, 1610612736, 1024 ** 4].map(byteSize),
      ['0', '512B', '1K', '40M', '40.5M', '256M', '1G', '1.5G', '1T'],
    );
    assert.equal(sinceTime(new Date('2026-11-21T10:00:00.123Z')), '2026-11-21T10:00:00Z');
  });

  it('prints the instances table like cf', () => {
    const now = Date.parse('2026-11-21T10:00:30Z');
    const out = plain(instancesTable(
      [
        { type: 'web', index: 0, state: 'RUNNING', uptime: 30, usage: { cpu: 0.003, mem: 41943040, disk: 104857600 }, mem_quota: 268435456, disk_quota: 1073741824, details: null },
        { type: 'web', index: 1, state: 'CRASHED', since: now / 1000 - 5, usage: {}, mem_quota: null, disk_quota: null, details: 'crashed' },
        { type: 'web', index: 2, state: 'DOWN', since: null, usage: {} },
      ],
      { memory_in_mb: 256, disk_in_mb: 1024 },
      now,
    ));
    assert.equal(
      out,
      [
        '     state     since                  cpu    memory        disk         details',
        '#0   running   2026-11-21T10:00:00Z   0.3%   40M of 256M   100M of 1G',
        '#1   crashed   2026-11-21T10:00:25Z   0.0%   0 of 256M     0 of 1G      crashed',
        '#2   down                             0.0%   0 of 256M     0 of 1G',
      ].join('\n'),
    );
  });
});
