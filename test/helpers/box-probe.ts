// Looking inside a running box the way an operator would, for the fault tests: each component's
// /healthz and /varz (pid included) straight from its status port, the app instances the DEAs say
// they run (dea.find.droplet on the bus) with the pid listening on each, and the rows every store
// holds (controller database, broker records, the MySQL node's bookkeeping) to compare before and
// after a fault.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { createConnection } from 'mysql2/promise';
import { connect, JSONCodec, RequestStrategy } from 'nats';
import { embeddedBusUrl, parseNatsUrl } from '../../src/runtime/common/bus.js';
import { statePaths, type DevboxConfig, type PortsFile } from '../../src/runtime/common/config.js';
import { waitFor } from '../../src/runtime/common/net.js';
import { DEVBOX_BIN, type DevboxResult } from './devbox.js';

/** The router's register interval of the fault tests' boxes: no request may fail for longer. */
export const REGISTER_INTERVAL_S = 10;
/** Timers shortened so that the fault suites are fast; the behaviour is the same as with the defaults. */
export const FAST_BOX_ENV: Record<string, string> = {
  DEVBOX_ROUTER_REGISTER_INTERVAL_S: String(REGISTER_INTERVAL_S),
  DEVBOX_HEALTH_GRACE_MS: '1000',
  DEVBOX_HEALTH_POLL_MS: '1000',
  DEVBOX_HEALTH_CRASH_BASE_MS: '500',
};

/**
 * The CLI against the box in `home()` (read at each call: tests choose it in `before`), with the
 * fault tests' timers: `cli` returns what happened, `ok` insists on exit code 0 and returns stdout.
 */
export function boxCli(home: () => string) {
  const cli = async (args: string[], { cwd = os.tmpdir(), timeoutMs = 60_000 } = {}): Promise<DevboxResult> => {
    const r = await execa(process.execPath, [DEVBOX_BIN, ...args], { cwd, env: { DEVBOX_HOME: home(), NO_COLOR: '1', ...FAST_BOX_ENV }, extendEnv: true, stdin: 'ignore', reject: false, timeout: timeoutMs });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const ok = async (args: string[], options?: { cwd?: string }): Promise<string> => {
    const r = await cli(args, options);
    assert.equal(r.exitCode, 0, `devbox ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  return { cli, ok };
}

export interface Box {
  home: string;
  config: DevboxConfig;
  ports: PortsFile;
}

/** Reads config.json and run/ports.json of the box in `home` (ports change at every `up`). */
export function readBox(home: string): Box {
  const paths = statePaths(home);
  return {
    home,
    config: JSON.parse(fs.readFileSync(paths.config, 'utf8')) as DevboxConfig,
    ports: JSON.parse(fs.readFileSync(paths.portsFile, 'utf8')) as PortsFile,
  };
}

async function statusGet(box: Box, key: string, what: 'healthz' | 'varz'): Promise<Response | undefined> {
  const port = box.ports.components[key]?.status_port;
  if (!port) throw new Error(`no component ${key} in ${box.home}/run/ports.json`);
  const auth = Buffer.from(`${box.config.status.user}:${box.config.status.password}`).toString('base64');
  try {
    return await fetch(`http://127.0.0.1:${port}/${what}`, { headers: { authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(2_000) });
  } catch {
    return undefined;
  }
}

/** A component's /varz, or undefined while it does not answer. */
export async function varz<T = Record<string, unknown>>(box: Box, key: string): Promise<(T & { pid: number }) | undefined> {
  const res = await statusGet(box, key, 'varz');
  if (res?.status !== 200) return undefined;
  return (await res.json()) as T & { pid: number };
}

export async function healthy(box: Box, key: string): Promise<boolean> {
  const res = await statusGet(box, key, 'healthz');
  await res?.arrayBuffer();
  return res?.status === 200;
}

/** Waits until a component answers healthy from a process other than `oldPid`; returns its pid. */
export async function waitForRestart(box: Box, key: string, oldPid: number, timeoutMs = 30_000): Promise<number> {
  return waitFor(`${key} healthy again (a new process)`, async () => {
    const v = await varz(box, key);
    return v && v.pid !== oldPid && (await healthy(box, key)) ? v.pid : undefined;
  }, { timeoutMs, intervalMs: 50 });
}

export function busUrl(box: Box): string {
  return box.ports.external_bus ? box.ports.nats_url : embeddedBusUrl(box.ports.bus_port!, box.config.bus.token);
}

export interface AppInstance {
  dea: string;
  index: number;
  /** The instance guid: a restarted instance gets a new one. */
  instance: string;
  state: string;
  port?: number;
  /** The pid listening on the instance's port (0 when none was found). */
  pid: number;
}

/** The pid of the process listening on a loopback TCP port, from ss (0 when nothing listens). */
export function listenerPid(port: number): number {
  const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  return Number(/pid=(\d+)/.exec(out)?.[1] ?? 0);
}

/** Every instance of an app the DEAs report, asked on the bus (one connection per call). */
export async function appInstances(box: Box, appGuid: string): Promise<AppInstance[]> {
  const address = parseNatsUrl(busUrl(box));
  const nc = await connect({ servers: address.servers, token: address.token, user: address.user, pass: address.pass, timeout: 2_000 });
  try {
    const json = JSONCodec<{ dea: string; index: number; instance: string; state: string; stats?: { port?: number } }>();
    const found: AppInstance[] = [];
    const replies = await nc.requestMany('dea.find.droplet', JSONCodec().encode({ droplet: appGuid, include_stats: true }), { strategy: RequestStrategy.Timer, maxWait: 400 });
    for await (const msg of replies) {
      const r = json.decode(msg.data);
      const port = r.stats?.port;
      found.push({ dea: r.dea, index: r.index, instance: r.instance, state: r.state, port, pid: port && r.state === 'RUNNING' ? listenerPid(port) : 0 });
    }
    return found.sort((a, b) => a.index - b.index || a.instance.localeCompare(b.instance));
  } finally {
    await nc.close();
  }
}

/** Every row of every table of the controller's SQLite database, keyed `table:guid` (or the whole row). */
export function controllerRows(home: string): Map<string, string> {
  const db = new Database(path.join(statePaths(home).db, 'controller.sqlite'), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const rows = new Map<string, string>();
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_%'").all() as { name: string }[];
    for (const { name } of tables) {
      for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]) {
        const text = JSON.stringify(row);
        rows.set(`${name}:${typeof row.guid === 'string' ? row.guid : text}`, text);
      }
    }
    return rows;
  } finally {
    db.close();
  }
}

/** The broker's records (service instances and bindings it knows), keyed `instances:id` / `bindings:id`. */
export function brokerRows(home: string): Set<string> {
  const file = path.join(home, 'mysql-gateway', 'records.json');
  const records = JSON.parse(fs.readFileSync(file, 'utf8')) as { instances: Record<string, unknown>; bindings: Record<string, unknown> };
  return new Set([...Object.keys(records.instances).map((id) => `instances:${id}`), ...Object.keys(records.bindings).map((id) => `bindings:${id}`)]);
}

/** The MySQL node's bookkeeping (devbox_node.instances and .bindings) and the cf_ databases and users on its server. */
export async function nodeRows(box: Box): Promise<Set<string>> {
  const node = await varz<{ mysql: { port: number } }>(box, 'mysql-node');
  if (!node?.mysql?.port) throw new Error('the mysql-node does not say where its server is');
  const c = await createConnection({ host: '127.0.0.1', port: node.mysql.port, user: 'root', password: box.config.mysql.root_password });
  try {
    const rows = new Set<string>();
    const add = async (label: string, sql: string) => {
      const [result] = await c.query(sql);
      for (const row of result as Record<string, unknown>[]) rows.add(`${label}:${Object.values(row).join('/')}`);
    };
    await add('instances', 'SELECT name, plan FROM devbox_node.instances');
    await add('bindings', 'SELECT username, name FROM devbox_node.bindings');
    await add('database', "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'cf\\_%'");
    await add('user', "SELECT User FROM mysql.user WHERE User LIKE 'u%'");
    return rows;
  } finally {
    await c.end();
  }
}

/** The keys of `before` missing from `after` (a lost row). */
export function missing(before: Iterable<string>, after: { has(key: string): boolean }): string[] {
  return [...before].filter((key) => !after.has(key));
}

/** A plain text table, for the figures a test prints. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}
