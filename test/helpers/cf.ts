// The real Cloud Foundry CLI (cf 8) as a test client of a running box: each `cfFor(box)` has its own
// CF_HOME (cf keeps its login in $CF_HOME/.cf/config.json), every command is bounded by a timeout,
// and answers exit code, stdout and stderr. Where cf reaches the box is decided here, in one place:
// the API address `devbox status --json` reports as `cf_api` when the box offers one; until then
// the router as an HTTP proxy (it accepts absolute-form requests), since Linux builds of cf resolve
// names with Go's resolver, which knows nothing of `*.localhost`.
//
// The cf executable: $DEVBOX_CF_CLI, else ../shared/tools/cf-cli/cf from the project's root. When
// neither exists the tests fail (never skip) with a message naming DEVBOX_CF_CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { statePaths, type DevboxConfig, type PortsFile } from '../../src/runtime/common/config.js';
import { freePort } from '../../src/runtime/common/net.js';
import { cleanupBox, devbox, tempHome } from './devbox.js';

export const CF_CLI_ENV = 'DEVBOX_CF_CLI';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULT_CF = path.resolve(PROJECT_ROOT, '../shared/tools/cf-cli/cf');

/** The cf executable to test with, or an error that says how to provide it. */
export function cfCliPath(): string {
  const given = process.env[CF_CLI_ENV];
  const candidate = given || DEFAULT_CF;
  try {
    fs.accessSync(candidate, fs.constants.X_OK);
    return candidate;
  } catch {
    throw new Error(
      given
        ? `${CF_CLI_ENV}=${given}: no executable cf CLI there. Set ${CF_CLI_ENV} to the path of the cf 8 CLI (../shared/tools/cf-cli/cf from the project's root).`
        : `the cf CLI is missing: no executable at ${DEFAULT_CF}. Set ${CF_CLI_ENV} to the path of the cf 8 CLI (.ci/run exports it).`,
    );
  }
}

export interface CfResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface CfRunOptions {
  /** Per command; a command that takes longer is killed and answers exit code -1. */
  timeoutMs?: number;
  cwd?: string;
  env?: Record<string, string>;
}

export interface Cf {
  /** The API address given to `cf api`. */
  readonly api: string;
  /** The admin user and password of the box (config.json `uaa.admin`). */
  readonly admin: { username: string; password: string };
  /** This client's CF_HOME (removed by cleanup). */
  readonly cfHome: string;
  /** Runs `cf ARGS`; never throws for a failing command. */
  run(args: string[], options?: CfRunOptions): Promise<CfResult>;
  /** Runs `cf ARGS` and insists on exit code 0; returns stdout. */
  ok(args: string[], options?: CfRunOptions): Promise<string>;
  /** Starts `cf ARGS` that runs until killed (`cf logs APP`); the caller kills it by its pid. */
  spawn(args: string[]): ResultPromise;
  /** `cf api`, `cf auth` as the admin, `cf target -o devbox -s dev` (or the org and space given). */
  login(target?: { org?: string; space?: string }): Promise<void>;
  /** Removes CF_HOME. */
  cleanup(): void;
}

/** What a box started by a test is: its state directory (config.json, run/ports.json). */
export interface BoxRef {
  home: string;
}

/** `cf_api` of `devbox status --json`, when the box reports one. */
async function reportedCfApi(home: string): Promise<string | undefined> {
  const status = await devbox(home, ['status', '--json'], { timeoutMs: 15_000 });
  try {
    const parsed = JSON.parse(status.stdout) as { cf_api?: unknown };
    return typeof parsed.cf_api === 'string' && parsed.cf_api !== '' ? parsed.cf_api : undefined;
  } catch {
    return undefined;
  }
}

/** A cf client of the box in `box.home`, with its own CF_HOME. The box must be up. */
export async function cfFor(box: BoxRef, { timeoutMs = 120_000 } = {}): Promise<Cf> {
  const executable = cfCliPath();
  const paths = statePaths(box.home);
  const config = JSON.parse(fs.readFileSync(paths.config, 'utf8')) as DevboxConfig;
  const ports = JSON.parse(fs.readFileSync(paths.portsFile, 'utf8')) as PortsFile;
  const cfApi = await reportedCfApi(box.home);
  const api = cfApi ?? `http://api.${config.domain}:${ports.router_port}`;
  // Until the box offers an address cf can resolve, cf goes through the router as its proxy.
  const proxy: Record<string, string> = cfApi
    ? { HTTP_PROXY: '', http_proxy: '', HTTPS_PROXY: '', https_proxy: '' }
    : { HTTP_PROXY: `http://127.0.0.1:${ports.router_port}`, http_proxy: `http://127.0.0.1:${ports.router_port}`, HTTPS_PROXY: '', https_proxy: '' };
  const cfHome = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-cf-home-'));
  const admin = { username: config.uaa.admin.username, password: config.uaa.admin.password };

  const env = (extra: Record<string, string> = {}) => ({ CF_HOME: cfHome, CF_COLOR: 'false', CF_DIAL_TIMEOUT: '10', NO_PROXY: '', no_proxy: '', ...proxy, ...extra });
  const run = async (args: string[], options: CfRunOptions = {}): Promise<CfResult> => {
    const r = await execa(executable, args, {
      cwd: options.cwd ?? cfHome,
      env: env(options.env),
      extendEnv: true,
      stdin: 'ignore',
      reject: false,
      timeout: options.timeoutMs ?? timeoutMs,
    });
    const timedOut = r.timedOut ? `\n(cf ${args.join(' ')} was killed after ${options.timeoutMs ?? timeoutMs} ms)` : '';
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) + timedOut };
  };

  const ok = async (args: string[], options?: CfRunOptions): Promise<string> => {
    const r = await run(args, options);
    if (r.exitCode !== 0) throw new Error(`cf ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  return {
    api,
    admin,
    cfHome,
    run,
    ok,
    spawn: (args) => execa(executable, args, { cwd: cfHome, env: env(), extendEnv: true, stdin: 'ignore', reject: false }),
    async login({ org = 'devbox', space = 'dev' } = {}) {
      await ok(['api', api]);
      // Through the environment, as cf recommends: a password is never read as a flag.
      await ok(['auth'], { env: { CF_USERNAME: admin.username, CF_PASSWORD: admin.password } });
      await ok(['target', '-o', org, '-s', space]);
    },
    cleanup() {
      fs.rmSync(cfHome, { recursive: true, force: true });
    },
  };
}

export interface CfBox {
  home: string;
  /** The router's port. */
  port: number;
  cf: Cf;
  /** Removes cf's home, stops the box and removes its state directory. */
  close(): Promise<void>;
}

/**
 * `devbox up -d` on a free port with a temporary DEVBOX_HOME, and a cf client of it (not yet
 * logged in). Fails before starting anything when the cf CLI is missing. A box that came up is
 * stopped again if making the client fails.
 */
export async function startCfBox({ prefix = 'devbox-cf-', upTimeoutMs = 90_000 } = {}): Promise<CfBox> {
  cfCliPath();
  const home = tempHome(prefix);
  try {
    const port = await freePort();
    const up = await devbox(home, ['up', '-d', '--port', String(port)], { timeoutMs: upTimeoutMs });
    if (up.exitCode !== 0) throw new Error(`devbox up: exit ${up.exitCode}\n${up.stdout}\n${up.stderr}`);
    const cf = await cfFor({ home });
    return {
      home,
      port,
      cf,
      async close() {
        cf.cleanup();
        await cleanupBox(home);
      },
    };
  } catch (error) {
    await cleanupBox(home);
    throw error;
  }
}

/**
 * The rows of a cf table as objects keyed by its column names: the header is the first line that
 * starts with `firstColumn`; columns start where the header's names do (cf aligns them), so an
 * empty cell is ''. The table ends at the first blank line.
 */
export function table(stdout: string, firstColumn: string): Record<string, string>[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.startsWith(firstColumn));
  if (start < 0) throw new Error(`no table with a column '${firstColumn}' in:\n${stdout}`);
  const header = lines[start];
  const columns: { name: string; at: number }[] = [];
  for (const m of header.matchAll(/\S+(?: \S+)*/g)) columns.push({ name: m[0], at: m.index ?? 0 });
  const rows: Record<string, string>[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    rows.push(Object.fromEntries(columns.map((c, i) => [c.name, line.slice(c.at, columns[i + 1]?.at ?? line.length).trim()])));
  }
  return rows;
}
