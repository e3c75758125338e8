// Opening the controller database: SQLite in the state directory by default (WAL, so readers do not
// wait for a writer), or MySQL (`--db mysql://…`) for a database shared by several controllers.
import fs from 'node:fs';
import path from 'node:path';
import { Kysely, Migrator, MysqlDialect, SqliteDialect, type MigrationProvider } from 'kysely';
import { redactUrl } from '../../common/log.js';
import { migrations } from './migrations.js';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'mysql';

export interface ControllerDatabase {
  db: Kysely<Database>;
  dialect: Dialect;
  /** Where it is, without credentials (for logs and /varz). */
  location: string;
  close(): Promise<void>;
}

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** `url`: a `mysql://user:pass@host:port/db` URL, or a SQLite file path (default db/controller.sqlite). */
export async function openDatabase(url: string): Promise<ControllerDatabase> {
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
  } else {
    dialect = 'sqlite';
    location = url.replace(/^sqlite:\/\//, '');
    fs.mkdirSync(path.dirname(location), { recursive: true, mode: 0o700 });
    const { default: SqliteDatabase } = await import('better-sqlite3');
    const sqlite = new SqliteDatabase(location);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    await db.destroy();
    throw new Error(`migrating the controller database (${location}) failed at ${failed?.migrationName ?? '?'}: ${(error as Error | undefined)?.message ?? 'unknown error'}`);
  }
  return { db, dialect, location, close: () => db.destroy() };
}
