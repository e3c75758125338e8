// Where the box's secrets are, read from the file system and /proc: only in owner-only files of an
// owner-only state directory, never in a log (devbox's own, the private MariaDB's), never on a
// command line (every user of the machine sees those in ps).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { statePaths } from '../../../src/runtime/common/config.js';
import { readSupervisor } from '../../../src/runtime/supervisor/lock.js';
import { cmdline, descendants, securityBox, walk, type SecurityBox } from './box.js';

describe('security: secrets at rest', function () {
  this.timeout(180_000);
  let box: SecurityBox;
  before(async () => (box = await securityBox()));

  it('keeps the secrets files 0600 in a 0700 state directory', () => {
    const paths = statePaths(box.home);
    assert.equal(fs.statSync(paths.home).mode & 0o777, 0o700);
    const files = [
      paths.config, // bus token, passwords, the signing key
      paths.portsFile,
      path.join(box.home, 'cli.json'), // the CLI's tokens
      path.join(box.home, 'mysql-gateway', 'records.json'), // binding credentials
      path.join(box.home, 'redis-gateway', 'broker.json'), // the Redis broker's own credentials
      path.join(paths.db, 'controller.sqlite'), // binding credentials too
    ];
    for (const file of files) assert.equal(fs.statSync(file).mode & 0o777, 0o600, file);
  });

  it('leaves nothing in the state directory to the group or others (MariaDB data, logs, blobs, apps)', () => {
    const entries = walk(box.home);
    assert.ok(entries.some((e) => e.file.includes(`${path.sep}mysql${path.sep}`) && e.file.endsWith('.frm')), 'the private MariaDB data is there');
    const open = entries.filter((e) => (e.mode & 0o077) !== 0).map((e) => `${e.mode.toString(8)} ${path.relative(box.home, e.file)}`);
    assert.deepEqual(open, []);
  });

  it('writes no secret to any log: components, supervisor, app logs, MariaDB', () => {
    const secrets = box.secrets();
    const logsDir = statePaths(box.home).logs;
    const logs = walk(logsDir).filter((e) => e.isFile).map((e) => e.file);
    const mysqlDir = path.join(box.home, 'mysql');
    logs.push(...walk(mysqlDir).filter((e) => e.isFile && e.file.endsWith('.log')).map((e) => e.file));
    assert.ok(logs.length >= 10, `log files: ${logs.join(', ')}`);
    assert.ok(logs.some((f) => f.startsWith(mysqlDir)), "MariaDB's error log");
    for (const file of logs) {
      const text = readOrEmpty(file);
      for (const secret of secrets) assert.ok(!text.includes(secret), `${path.relative(box.home, file)} contains a secret`);
    }
  });

  it('puts no secret on a command line (ps shows them to every user)', () => {
    const supervisor = readSupervisor(statePaths(box.home).pidFile)!;
    const pids = [...descendants(supervisor.pid)];
    const lines = pids.map(cmdline).filter(Boolean);
    assert.ok(lines.some((l) => /mariadbd|mysqld/.test(l)), 'mariadbd is among them');
    assert.ok(lines.length >= 10, `processes: ${lines.length}`);
    const secrets = box.secrets();
    for (const line of lines) for (const secret of secrets) assert.ok(!line.includes(secret), `a secret on the command line of: ${line.slice(0, 80)}`);
  });
});

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}
