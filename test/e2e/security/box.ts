// The one box the security suite inspects: `devbox up -d`, two apps (a Node app, user code, and a
// static site served by devbox's own static file server), two MySQL service instances with a key
// each, and a binding, so that staging, instances, credentials and the private MariaDB all exist
// before anything is checked. Every file of the suite shares it; a root hook stops it at the end.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../../../src/runtime/common/net.js';
import { statePaths, type DevboxConfig } from '../../../src/runtime/common/config.js';
import type { PortsFile } from '../../../src/runtime/common/config.js';
import { processTree } from '../../../src/runtime/common/procfs.js';
import { boxApi, type BoxApi } from '../../helpers/api.js';
import { cleanupBox, devbox, tempHome, type DevboxResult } from '../../helpers/devbox.js';
import type { MysqlCredentials } from '../../../src/runtime/mysql-node/node.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const helloApp = path.resolve(here, '../../../templates/apps/hello-node');
const staticSite = path.resolve(here, '../../fixtures/apps/static-site');


export interface ComponentStatus {
  name: string;
  pid?: number;
  status_port: number;
  healthy: boolean;
}

export interface SecurityBox {
  home: string;
  routerPort: number;
  config: DevboxConfig;
  ports: PortsFile;
  components: ComponentStatus[];
  api: BoxApi;
  /** app name → guid */
  apps: Record<string, string>;
  /** Service keys of two MySQL instances, `db1` and `db2`. */
  keys: { db1: MysqlCredentials; db2: MysqlCredentials };
  cli(args: string[]): Promise<DevboxResult>;
  /** Every secret the box holds or issued: config.json's, the CLI's tokens, the binding passwords. */
  secrets(): string[];
}

let home: string | undefined;
let shared: Promise<SecurityBox> | undefined;

export function securityBox(): Promise<SecurityBox> {
  shared ??= start();
  return shared;
}

// A root hook (registered once, when the first file imports this module): the box outlives every
// file of the suite and is stopped after the last.
after(async function () {
  this.timeout(60_000);
  if (home) await cleanupBox(home);
});

async function start(): Promise<SecurityBox> {
  home = tempHome('devbox-security-');
  const boxHome = home;
  const routerPort = await freePort();
  const cli = (args: string[]) => devbox(boxHome, args, { timeoutMs: 90_000 });
  const ok = async (args: string[]) => {
    const r = await cli(args);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  // A small process limit, so that the container tests reach it quickly (containers.test.ts).
  const up = await devbox(boxHome, ['up', '-d', '--port', String(routerPort)], { timeoutMs: 90_000, env: { DEVBOX_DEA_PIDS_LIMIT: '256' } });
  assert.equal(up.exitCode, 0, `devbox up: ${up.stdout}\n${up.stderr}`);
  const paths = statePaths(boxHome);
  const config = JSON.parse(fs.readFileSync(paths.config, 'utf8')) as DevboxConfig;
  const ports = JSON.parse(fs.readFileSync(paths.portsFile, 'utf8')) as PortsFile;

  await ok(['push', 'hello', '-p', helloApp, '--no-manifest']);
  await ok(['push', 'site', '-p', staticSite, '--no-manifest']);
  // The mysql-node serves once its private MariaDB is up (in the background of `up`).
  await waitFor('the broker to provision db1', async () => (await cli(['create-service', 'p-mysql', 'small', 'db1'])).exitCode === 0, { timeoutMs: 60_000, intervalMs: 500 });
  await ok(['create-service', 'p-mysql', 'small', 'db2']);
  await ok(['bind-service', 'hello', 'db1']);
  await ok(['restart', 'hello']);
  const key = async (instance: string): Promise<MysqlCredentials> => {
    await ok(['create-service-key', instance, 'k']);
    const out = await ok(['service-key', instance, 'k']);
    return JSON.parse(out.slice(out.indexOf('{'))) as MysqlCredentials;
  };
  const keys = { db1: await key('db1'), db2: await key('db2') };

  const api = await boxApi(boxHome, routerPort);
  const apps: Record<string, string> = {};
  for (const app of (await api.call('GET', '/v3/apps')).json().resources as { name: string; guid: string }[]) apps[app.name] = app.guid;
  const status = JSON.parse(await ok(['status', '--json'])) as { components: ComponentStatus[] };

  const secrets = () => {
    const found = [
      config.bus.token,
      config.status.password,
      config.uaa.admin.password,
      config.uaa.components_client.secret,
      config.mysql.root_password,
      config.mysql.broker.password,
      // A line from the middle of the private key: PEM files wrap at 64 characters.
      config.uaa.signing_key.private_pem.split('\n')[5],
      keys.db1.password,
      keys.db2.password,
      api.token.slice(-43), // the signature of an access token
    ];
    const session = JSON.parse(fs.readFileSync(path.join(boxHome, 'cli.json'), 'utf8')) as Record<string, unknown>;
    for (const value of Object.values(session)) if (typeof value === 'string' && value.length > 100) found.push(value.slice(-43));
    for (const secret of found) assert.ok(typeof secret === 'string' && secret.length >= 12, `a usable secret: ${String(secret)}`);
    return found;
  };

  return { home: boxHome, routerPort, config, ports, components: status.components, api, apps, keys, cli, secrets };
}

/** Every pid under `root` (itself included), from /proc. */
export const descendants = (root: number): Set<number> => new Set(processTree(root));

/** The processes of app instances: everything under the pids the DEA recorded for its instances. */
export function appPids(box: SecurityBox): number[] {
  const deaDir = path.join(box.home, 'dea');
  const pids: number[] = [];
  for (const dea of fs.readdirSync(deaDir)) {
    const instances = path.join(deaDir, dea, 'instances');
    for (const instance of fs.existsSync(instances) ? fs.readdirSync(instances) : []) {
      try {
        const record = JSON.parse(fs.readFileSync(path.join(instances, instance, 'instance.json'), 'utf8')) as { pid: number };
        pids.push(...processTree(record.pid));
      } catch {
        // starting or gone meanwhile
      }
    }
  }
  return pids;
}

/** A process's command line, as every user of the machine sees it in ps. */
export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** Every file and directory under `root`, with its permission bits; symbolic links and sockets aside. */
export function walk(root: string): { file: string; mode: number; dir: boolean; isFile: boolean }[] {
  const out: { file: string; mode: number; dir: boolean; isFile: boolean }[] = [];
  const visit = (file: string) => {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(file);
    } catch {
      return; // removed meanwhile (a staging, a download in progress)
    }
    // A link points elsewhere; a socket's own mode is not what guards it (its directory is).
    if (stat.isSymbolicLink() || stat.isSocket()) return;
    out.push({ file, mode: stat.mode & 0o777, dir: stat.isDirectory(), isFile: stat.isFile() });
    if (stat.isDirectory()) for (const entry of fs.readdirSync(file)) visit(path.join(file, entry));
  };
  visit(root);
  return out;
}

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
