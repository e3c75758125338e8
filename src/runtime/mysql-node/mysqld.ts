// A private MySQL server owned by devbox: MariaDB's `mariadbd` (or MySQL's `mysqld`) initialised in a
// directory of ours on first use, run as a child on a loopback port with its socket beside its data,
// root protected by a password, data kept across restarts. The mysql-node runs its databases here;
// tests use it to run the controller on MySQL without touching any server of the machine's.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findExecutable, SYSTEM_BIN_DIRS } from '../common/executables.js';
import { isListening } from '../common/net.js';
import { waitFor } from '../common/poll.js';
import { lastLines } from '../service-base/files.js';

export interface PrivateMysqldOptions {
  /** Holds data/, mysqld.sock, mysqld.pid and error.log. */
  dir: string;
  port: number;
  rootPassword: string;
  startTimeoutMs?: number;
}

export interface PrivateMysqld {
  /** mysql://root:PASSWORD@127.0.0.1:PORT */
  url: string;
  port: number;
  socket: string;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

const SBIN = [...SYSTEM_BIN_DIRS, '/usr/local/mysql/bin'];
/**
 * The MySQL binaries run so that what they create (data files with password hashes, the error log) is
 * owner-only: umask 077 for the install scripts, and UMASK/UMASK_DIR for mysqld, which sets its own
 * umask from them (default 0660/0700). `exec` keeps the pid: the child is mysqld itself.
 */
const owned = (file: string, args: string[]): [string, string[]] => ['/bin/sh', ['-c', 'export UMASK=0600 UMASK_DIR=0700; umask 077; exec "$0" "$@"', file, ...args]];

/** The server binary and the initialiser, or undefined when neither MariaDB nor MySQL is installed. */
export function findMysqlServer(): { server: string; install?: string; flavour: 'mariadb' | 'mysql' } | undefined {
  const find = (name: string) => findExecutable(name, SBIN);
  const mariadbd = find('mariadbd');
  if (mariadbd) return { server: mariadbd, install: find('mariadb-install-db') ?? find('mysql_install_db'), flavour: 'mariadb' };
  const mysqld = find('mysqld');
  if (mysqld) return { server: mysqld, flavour: 'mysql' };
  return undefined;
}

export const MYSQL_MISSING_HELP = 'no MySQL server found: install one (apt-get install mariadb-server) or point devbox at an existing server with --mysql-url mysql://USER:PASS@HOST:PORT';

function initialise(binaries: NonNullable<ReturnType<typeof findMysqlServer>>, dataDir: string, tmpDir: string): void {
  // The bootstrap's temporary tables go to the server's own tmpdir too: nothing cleaning /tmp can
  // pull them from under it (seen once: 'Could not remove temporary table /tmp/#sql-temptable…').
  const options = [`--tmpdir=${tmpDir}`, ...(process.getuid?.() === 0 ? ['--user=root'] : [])];
  const result =
    binaries.flavour === 'mariadb' && binaries.install
      ? spawnSync(...owned(binaries.install, ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...options]), { encoding: 'utf8' })
      : spawnSync(...owned(binaries.server, ['--no-defaults', '--initialize-insecure', `--datadir=${dataDir}`, ...options]), { encoding: 'utf8' });
  if (result.status !== 0) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`initialising a MySQL data directory in ${dataDir} failed: ${(result.stderr || result.stdout || String(result.error)).trim().split('\n').slice(-5).join('\n')}`);
  }
}

/** In the data directory once root has devbox's password (older data directories: see below). */
const SECURED_MARKER = 'devbox-root-secured';

/**
 * The init file of an unsecured data directory: only root over loopback remains (anonymous users
 * and root from elsewhere dropped), with devbox's password. Idempotent, so an interrupted first
 * start runs it again.
 */
export function secureRootSql(flavour: 'mariadb' | 'mysql', password: string): string {
  const quoted = `'${password.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const users = flavour === 'mariadb' ? 'mysql.global_priv' : 'mysql.user';
  return [
    `DELETE FROM ${users} WHERE User = '' OR (User = 'root' AND Host NOT IN ('localhost', '127.0.0.1', '::1'));`,
    'FLUSH PRIVILEGES;',
    ...['localhost', '127.0.0.1', '::1'].map((host) => `ALTER USER IF EXISTS 'root'@'${host}' IDENTIFIED BY ${quoted};`),
    '',
  ].join('\n');
}

export async function startPrivateMysqld(options: PrivateMysqldOptions): Promise<PrivateMysqld> {
  const binaries = findMysqlServer();
  if (!binaries) throw new Error(MYSQL_MISSING_HELP);
  const dataDir = path.join(options.dir, 'data');
  const socket = path.join(options.dir, 'mysqld.sock');
  const errorLog = path.join(options.dir, 'error.log');
  const tmpDir = path.join(options.dir, 'tmp');
  fs.mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  if (!fs.existsSync(path.join(dataDir, 'mysql'))) initialise(binaries, dataDir, tmpDir);
  // Until root has our password (the marker), the server runs an init file that sets it before it
  // accepts a connection: a new data directory's root has none, and nobody may use that window.
  const secured = path.join(dataDir, SECURED_MARKER);
  const initFile = path.join(options.dir, 'init.sql');
  const securing = !fs.existsSync(secured);
  if (securing) fs.writeFileSync(initFile, secureRootSql(binaries.flavour, options.rootPassword), { mode: 0o600 });
  if (await isListening(options.port)) throw new Error(`port ${options.port} is already in use; cannot start the private MySQL server there`);

  const args = [
    '--no-defaults',
    `--datadir=${dataDir}`,
    `--socket=${socket}`,
    `--port=${options.port}`,
    '--bind-address=127.0.0.1',
    `--pid-file=${path.join(options.dir, 'mysqld.pid')}`,
    `--log-error=${errorLog}`,
    // Its own temporary directory: internal temporary tables (users' data) stay owner-only, and
    // nothing that cleans the machine's /tmp pulls files from under the server.
    `--tmpdir=${tmpDir}`,
    '--skip-name-resolve',
    '--innodb-buffer-pool-size=32M',
    '--max-connections=500',
    ...(securing ? [`--init-file=${initFile}`] : []),
    ...(process.getuid?.() === 0 ? ['--user=root'] : []),
  ];
  const child = spawn(...owned(binaries.server, args), { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `mysql://root:${encodeURIComponent(options.rootPassword)}@127.0.0.1:${options.port}`;
  // Loaded here, not at the top: `devbox up` imports this module only to find the server binary.
  const { createConnection } = await import('mysql2/promise');
  try {
    await waitFor(`the MySQL server on port ${options.port}`, async () => {
      if (child.exitCode !== null) throw new Error(`it exited: ${lastLines(errorLog)}`);
      if (!(await isListening(options.port))) return false;
      const connection = await createConnection({ host: '127.0.0.1', port: options.port, user: 'root', password: options.rootPassword });
      await connection.end();
      if (securing) {
        fs.writeFileSync(secured, '', { mode: 0o600 });
        fs.rmSync(initFile, { force: true });
      }
      return true;
    }, { timeoutMs: options.startTimeoutMs ?? 30_000, intervalMs: 50 });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url,
    port: options.port,
    socket,
    pid: child.pid!,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
