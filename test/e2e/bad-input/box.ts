// The one box the bad-input suite shares: `devbox up -d` on a free port, a canary app pushed into
// it, and `stillWorks()`, the check run after every hostile input: every component healthy in
// `devbox status --json` and still the same process (nothing crashed and was restarted), the canary
// answering through the router, and the API answering.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { PortsFile } from '../../../src/runtime/common/config.js';
import { statePaths, type DevboxConfig } from '../../../src/runtime/common/config.js';
import { request, type HttpResponse } from '../../../src/runtime/common/http.js';
import { freePort } from '../../../src/runtime/common/net.js';
import { boxApi, type BoxApi } from '../../helpers/api.js';
import { cleanupBox, DEVBOX_BIN, tempHome, type DevboxResult } from '../../helpers/devbox.js';

export const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures');

export interface BadInputBox {
  home: string;
  routerPort: number;
  config: DevboxConfig;
  ports: PortsFile;
  api: BoxApi;
  /** `devbox ARGS` in `cwd`, bounded. */
  cli(args: string[], options?: { cwd?: string; timeoutMs?: number; env?: Record<string, string> }): Promise<DevboxResult>;
  /** A request to `http://HOST.localhost:PORT/PATH` through the router. */
  visit(host: string, urlPath?: string): Promise<HttpResponse>;
  /** A component's /varz from its status port (basic auth from config.json). */
  varz(component: string): Promise<Record<string, unknown>>;
  /** Asserts the box is whole: same component pids, all healthy, canary and API answering. */
  stillWorks(after: string): Promise<void>;
  /** Scratch directories removed with the box. */
  scratch(prefix: string): string;
  stop(): Promise<void>;
}

export const show = (r: DevboxResult) => `exit ${r.exitCode}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

interface StatusJson {
  components: { name: string; healthy: boolean; pid?: number }[];
}

export async function startBox(): Promise<BadInputBox> {
  const home = tempHome('devbox-bad-input-');
  const dirs: string[] = [];
  const routerPort = await freePort();
  const cli: BadInputBox['cli'] = async (args, { cwd = os.tmpdir(), timeoutMs = 60_000, env = {} } = {}) => {
    const r = await execa(process.execPath, [DEVBOX_BIN, ...args], { cwd, env: { DEVBOX_HOME: home, NO_COLOR: '1', ...env }, extendEnv: true, stdin: 'ignore', reject: false, timeout: timeoutMs });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  try {
    return await prepare(home, routerPort, cli, dirs);
  } catch (error) {
    await cleanupBox(home);
    throw error;
  }
}

async function prepare(home: string, routerPort: number, cli: BadInputBox['cli'], dirs: string[]): Promise<BadInputBox> {
  const up = await cli(['up', '-d', '--port', String(routerPort)]);
  assert.equal(up.exitCode, 0, show(up));
  const paths = statePaths(home);
  const config = JSON.parse(fs.readFileSync(paths.config, 'utf8')) as DevboxConfig;
  const ports = JSON.parse(fs.readFileSync(paths.portsFile, 'utf8')) as PortsFile;
  const api = await boxApi(home, routerPort);
  const visit = (host: string, urlPath = '/') => request({ url: `http://${host}.${config.domain}:${routerPort}${urlPath}`, timeoutMs: 5_000 });
  const status = async (): Promise<StatusJson> => {
    const r = await cli(['status', '--json'], { timeoutMs: 15_000 });
    assert.equal(r.exitCode, 0, `devbox status: ${show(r)}`);
    return JSON.parse(r.stdout) as StatusJson;
  };

  const push = await cli(['push', 'canary', '-p', path.join(fixtures, 'apps/node-hello'), '--no-manifest']);
  assert.equal(push.exitCode, 0, show(push));
  const pids = new Map((await status()).components.map((c) => [c.name, c.pid]));

  return {
    home,
    routerPort,
    config,
    ports,
    api,
    cli,
    visit,
    async varz(component) {
      const port = ports.components[component]?.status_port;
      assert.ok(port, `no status port for ${component}`);
      const auth = Buffer.from(`${config.status.user}:${config.status.password}`).toString('base64');
      const res = await request({ url: `http://127.0.0.1:${port}/varz`, headers: { authorization: `Basic ${auth}` }, timeoutMs: 5_000 });
      assert.equal(res.status, 200, res.text);
      return JSON.parse(res.text) as Record<string, unknown>;
    },
    async stillWorks(after) {
      const now = await status();
      for (const c of now.components) {
        assert.ok(c.healthy, `after ${after}: ${c.name} is unhealthy`);
        assert.equal(c.pid, pids.get(c.name), `after ${after}: ${c.name} was restarted (pid ${pids.get(c.name)} → ${c.pid})`);
      }
      const canary = await visit('canary');
      assert.equal(canary.status, 200, `after ${after}: the canary app through the router: ${canary.status} ${canary.text}`);
      assert.match(canary.text, /^hello from node-hello/);
      const apps = await api.call('GET', '/v3/apps?names=canary');
      assert.equal(apps.status, 200, `after ${after}: the API: ${apps.text}`);
      assert.equal(apps.json().resources[0].state, 'STARTED');
    },
    scratch(prefix) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    async stop() {
      await cleanupBox(home);
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A v3 error body: `{"errors":[{"code","title","detail"}]}` and nothing else. */
export function assertCfError(res: HttpResponse, status: number, title: string, detail?: RegExp, what = ''): void {
  assert.equal(res.status, status, `${what}: expected ${status} ${title}, got ${res.status} ${res.text}`);
  let body: { errors?: { code?: unknown; title?: unknown; detail?: unknown }[] };
  try {
    body = JSON.parse(res.text) as typeof body;
  } catch {
    assert.fail(`${what}: the error body is not JSON: ${res.text}`);
  }
  assert.ok(Array.isArray(body.errors) && body.errors.length === 1, `${what}: ${res.text}`);
  const [error] = body.errors;
  assert.deepEqual(Object.keys(error).sort(), ['code', 'detail', 'title'], `${what}: ${res.text}`);
  assert.equal(typeof error.code, 'number', `${what}: ${res.text}`);
  assert.equal(error.title, title, `${what}: ${res.text}`);
  assert.equal(typeof error.detail, 'string', `${what}: ${res.text}`);
  assert.ok((error.detail as string).length > 0, `${what}: an empty detail`);
  if (detail) assert.match(error.detail as string, detail, what);
}
