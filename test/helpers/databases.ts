// The databases the controller suite runs against: SQLite (the default) and MySQL, a private MariaDB
// server started by the test from the installed binaries on a free port.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createConnection } from 'mysql2/promise';
import { freePort } from '../../src/runtime/common/net.js';
import { startPrivateMysqld, type PrivateMysqld } from '../../src/runtime/mysql-node/mysqld.js';

export interface TestDatabase {
  name: string;
  start(): Promise<void>;
  /** Arguments for `devbox up` so the controller uses this database (`--db URL`). */
  upArgs(): string[];
  stop(): Promise<void>;
}

export function mysqlDatabase(): TestDatabase & { server(): PrivateMysqld } {
  let server: PrivateMysqld | undefined;
  let dir: string | undefined;
  return {
    name: 'mysql',
    server: () => server!,
    async start() {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-mysql-'));
      server = await startPrivateMysqld({ dir, port: await freePort(), rootPassword: 'test-root-pw' });
      const connection = await createConnection(server.url);
      await connection.query('CREATE DATABASE controller');
      await connection.end();
    },
    upArgs: () => ['--db', `${server!.url}/controller`],
    async stop() {
      await server?.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function controllerDatabases(): TestDatabase[] {
  const sqlite: TestDatabase = { name: 'sqlite', start: async () => undefined, upArgs: () => [], stop: async () => undefined };
  return [sqlite, mysqlDatabase()];
}
