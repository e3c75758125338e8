// Opening the controller database: SQLite in the state directory by default (WAL, so readers do not
// wait for a writer), or MySQL (`--db mysql://…`) for a database shared by several controllers.
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, Migrator, MysqlDialect, sql, SqliteDialect, type MigrationProvider } from 'kysely';
import { redactUrl } from '../../common/log.js';
import { retry, sleep } from '../../common/poll.js';
import { migrations } from './migrations.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'mysql';

export const IN_MEMORY = ':memory:';

export interface ControllerDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where it is, without credentials (for logs and /varz). */
  location: string;
  close(): Promise<void>;
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Errors that say the server is not reachable yet (or dropped a connection), not that it refuses us. */
const TRANSIENT = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN', 'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR']);

/**
 * A shared MySQL database may be on a machine that is still starting, or too busy to answer a
 * handshake in time: wait for it (about 2 minutes), as components wait for the bus.
 */
async function waitForServer(db: Kysely<Database>, onRetry?: (error: Error) => void): Promise<void> {
  await retry(() => sql`select 1`.execute(db), {
    timeoutMs: 120_000,
    backoff: { initialMs: 100, maxMs: 2_000 },
    retryIf: (error) => {
      if (!TRANSIENT.has(String((error as NodeJS.ErrnoException).code))) return false;
      onRetry?.(error as Error);
      return true;
    },
  });
}

/** `url`: a `mysql://user:pass@host:port/db` URL, a SQLite file path (default db/controller.sqlite), or ':memory:'. */
export async function openDatabase(url: string, { onRetry }: { onRetry?: (error: Error) => void } = {}): Promise<ControllerDatabase> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  let location: string;
  if (/^mysql:\/\//i.test(url)) {
    dialect = 'mysql';
    location = redactUrl(url);
    // Each driver is loaded only for the database in use: a controller starts faster without the other.
    const { createPool } = await import('mysql2');
    const pool = createPool({ uri: url, connectionLimit: 10, timezone: 'Z', charset: 'utf8mb4' });
    db = new Kysely<Database>({ dialect: new MysqlDialect({ pool }) });
    try {
      await waitForServer(db, onRetry);
    } catch (error) {
      await db.destroy();
      throw new Error(`cannot reach the controller database (${location}): ${(error as Error).message}`, { cause: error });
    }
  } else {
    dialect = 'sqlite';
    location = url.replace(/^sqlite:\/\//, '');
    const { default: SqliteDatabase } = await import('better-sqlite3');
    // ':memory:' is a database that lives and dies with the process (the controller's in-process tests).
    if (location !== IN_MEMORY) {
      fs.mkdirSync(path.dirname(location), { recursive: true, mode: 0o700 });
      // It holds binding credentials: owner-only, like config.json (SQLite gives -wal and -shm the
      // mode of the database file).
      fs.closeSync(fs.openSync(location, 'a', 0o600));
      fs.chmodSync(location, 0o600);
    }
    const sqlite = new SqliteDatabase(location);
    if (location !== IN_MEMORY) sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (!error && !failed) break;
    // A connection dropped by a busy server: the migrations that finished are recorded, so trying
    // again goes on from there (several controllers take turns through Kysely's migration lock).
    if (dialect === 'mysql' && TRANSIENT.has(String((error as NodeJS.ErrnoException | undefined)?.code)) && attempt < 5) {
      onRetry?.(error as Error);
      await sleep(500 * attempt);
      continue;
    }
    await db.destroy();
    throw new Error(`migrating the controller database (${location}) failed at ${failed?.migrationName ?? '?'}: ${(error as Error | undefined)?.message ?? 'unknown error'}`);
  }
  return { db, dialect, location, close: () => db.destroy() };
}
