// Staging and starting as `push`, `restage`, `start`, `restart` and `scale` share them: a build from a
// package polled until STAGED or FAILED, the droplet made current, the app (re)started, and its
// instances watched until all run, or until they crash (`Start unsuccessful`), or time runs out.
import type { ApiClient } from './api/client.js';
import type { App, AuditEvent, Build, Droplet, Process, ProcessInstanceStats } from './api/resources.js';
import { CliError } from './base-command.js';
import type { Steps } from './steps.js';
import { waitFor } from '../runtime/common/poll.js';

/** How long push waits for the logs component before staging without its lines. */
const LOGS_CONNECT_TIMEOUT_MS = 1_500;

/** Where the long commands report: their steps, the CLI's name, and whether it has `logs`. */
export interface Ui {
  steps: Steps;
  /** The CLI's name, for TIPs (`devbox`). */
  bin: string;
  /** The CLI has the `logs` command (and push follows the staging lines). */
  logs: boolean;
}

/** Cloud Foundry's health check (start) timeout, in seconds, when the process sets none. */
export const DEFAULT_HEALTH_CHECK_TIMEOUT_S = 60;
/** The CLI waits this long past the health check timeout (droplet download, unpacking) before it gives up. */
const START_GRACE_MS = 30_000;
const DEFAULT_STAGING_TIMEOUT_MS = 15 * 60_000;

/**
 * How long staging may take: `CF_STAGING_TIMEOUT` minutes as in the cf CLI, else 15 minutes.
 */
export function stagingTimeoutMs(env = process.env): number {
  const minutes = Number(env.CF_STAGING_TIMEOUT);
  return Number.isFinite(minutes) && minutes > 0 ? minutes * 60_000 : DEFAULT_STAGING_TIMEOUT_MS;
}

/**
 * How long the CLI waits for instances to run: `CF_STARTUP_TIMEOUT` minutes as in the cf CLI, else
 * the process's health check timeout (the DEA's own limit for becoming healthy) plus a grace period.
 */
export function startupTimeoutMs(healthCheckTimeoutS: number | null | undefined, env = process.env): number {
  const minutes = Number(env.CF_STARTUP_TIMEOUT);
  if (Number.isFinite(minutes) && minutes > 0) return minutes * 60_000;
  return (healthCheckTimeoutS ?? DEFAULT_HEALTH_CHECK_TIMEOUT_S) * 1000 + START_GRACE_MS;
}

/** The next thing to look at after a failure: cf's `logs --recent`, or `events` in a CLI without `logs`. */
export const moreInformationTip = (ui: Pick<Ui, 'bin' | 'logs'>, app: string) =>
  ui.logs ? `TIP: Use '${ui.bin} logs ${app} --recent' for more information` : `TIP: Use '${ui.bin} events ${app}' for more information`;

/**
 * A build that failed: cf's `Error staging application: ...` with the reason (the error's id dropped,
 * as cf does), and what to try.
 */
export function stagingFailure(build: Build, app: string, ui: Pick<Ui, 'bin' | 'logs'>): CliError {
  const error = build.error ?? 'the build failed without a reason';
  const match = /^(\w+) - (.*)$/s.exec(error);
  const [id, reason] = match ? [match[1], match[2]] : ['', error];
  const tips: string[] = [];
  if (id === 'NoAppDetectedError') tips.push(`TIP: devbox's buildpacks are nodejs, python, staticfile and binary: name one with -b (binary needs -c COMMAND), or give your own buildpack directory with -b PATH.`);
  if (id === 'NoSuchBuildpack') tips.push(`TIP: devbox's buildpacks are nodejs, python, staticfile and binary, or a buildpack directory given by its path.`);
  tips.push(moreInformationTip(ui, app));
  return new CliError(`Error staging application: ${reason}\n\n${tips.join('\n')}`);
}

export interface Staged {
  build: Build;
  droplet: Droplet;
}

/** The app's STG lines, followed from when it was made: `print` shows them once staging has a step to show them in. */
export interface StagingTrace {
  stream: Promise<{ stop(): Promise<void> } | undefined>;
  print?: (line: string) => void;
  stop(): Promise<void>;
}

/**
 * Connects to the app's logs for the staging lines. Started before what precedes staging (push
 * starts it with the upload) so that the connection is there when the build begins, and no line
 * is missed; `stop()` it if staging does not happen.
 */
export function traceStaging(client: ApiClient, app: App, ui: Ui): StagingTrace {
  const trace: StagingTrace = {
    stream: ui.logs ? followStaging(client, app.guid, (line) => trace.print?.(line)) : Promise.resolve(undefined),
    stop: async () => (await trace.stream)?.stop(),
  };
  return trace;
}

/**
 * Stages the package into a droplet (one step: `Staging app and tracing logs...` with the buildpack's
 * lines as cf prints them, or `Staging app...` when the logs component cannot be reached), bounded
 * by the staging timeout.
 */
export async function stagePackage(client: ApiClient, app: App, packageGuid: string, ui: Ui, trace = traceStaging(client, app, ui)): Promise<Staged> {
  const tracing = await trace.stream;
  try {
    return await ui.steps.step(
      tracing ? 'Staging app and tracing logs' : 'Staging app',
      async (update, output) => {
        trace.print = output;
        try {
          return await stage(client, app, packageGuid, ui, update);
        } finally {
          // The last lines (also a failure's) are printed before the step ends.
          await tracing?.stop();
          trace.print = undefined;
        }
      },
      ({ droplet }) => {
        const buildpacks = droplet.buildpacks?.map((b) => b.buildpack_name ?? b.name).join(', ');
        return buildpacks ? `staged with ${buildpacks}` : 'staged';
      },
    );
  } finally {
    await tracing?.stop();
  }
}

/**
 * After staging ends, the stream is closed once no line came for this long: the DEA publishes its
 * lines before it answers, so what is left is only in flight through the logs component (ms).
 */
const STAGING_SETTLE_MS = 30;

/** The app's STG lines as they come (never fails: without the logs component, push goes on without them). */
async function followStaging(client: ApiClient, appGuid: string, print: (line: string) => void): Promise<{ stop(): Promise<void> } | undefined> {
  try {
    const { streamAppLogs } = await import('./logs-client.js');
    const stream = await streamAppLogs(client, appGuid, {
      onLog: (e) => {
        // cf prints the buildpack's lines as they are, indented under the step.
        if (e.source_type === 'STG') for (const line of e.message.replace(/[\r\n]+$/, '').split(/\r?\n/)) print(line);
      },
      reconnect: false,
      connectTimeoutMs: LOGS_CONNECT_TIMEOUT_MS,
    });
    stream.done.catch(() => undefined);
    let stopped: Promise<void> | undefined;
    return {
      stop: () =>
        (stopped ??= (async () => {
          await stream.settle(STAGING_SETTLE_MS, 1_000).catch(() => undefined);
          stream.close();
        })()),
    };
  } catch {
    return undefined;
  }
}

/** Staging is looked at this often at first, backing off (×1.2) to once a second: small apps stage in well under a second. */
const STAGING_POLL = { initialMs: 50, maxMs: 1_000, factor: 1.2 };

/** Creates the build and polls it until it is STAGED (its droplet) or FAILED (a CliError saying why). */
async function stage(client: ApiClient, app: App, packageGuid: string, ui: Ui, update: (detail: string) => void): Promise<Staged> {
  const begun = Date.now();
  const timeoutMs = stagingTimeoutMs();
  const created = await client.builds.create(packageGuid);
  const build =
    created.state !== 'STAGING'
      ? created
      : await waitFor(
          `staging app ${app.name}`,
          async () => {
            update(`${Math.round((Date.now() - begun) / 1000)}s`);
            const polled = await client.builds.get(created.guid);
            return polled.state === 'STAGING' ? undefined : polled;
          },
          {
            deadline: begun + timeoutMs,
            backoff: STAGING_POLL,
            delayFirst: true,
            retryIf: () => false,
            onTimeout: () => {
              throw new CliError(`Staging app ${app.name} did not finish within ${Math.round(timeoutMs / 60_000)} minutes (CF_STAGING_TIMEOUT sets the limit in minutes).\n\n${moreInformationTip(ui, app.name)}`);
            },
          },
        );
  if (build.state !== 'STAGED' || !build.droplet) throw stagingFailure(build, app.name, ui);
  const droplet = await client.builds.droplet(build.droplet.guid);
  return { build, droplet };
}

/** Why instances did not start: cf's `Start unsuccessful` (all crashed) or `Start app timeout`. */
export class StartFailure extends CliError {}

/**
 * Starts (or restarts) the app and waits until all its web instances run (one step: `Waiting for app
 * NAME to start...`). An app without web instances is not waited for.
 */
export async function startAndWait(client: ApiClient, app: App, { restart }: { restart: boolean }, ui: Ui): Promise<void> {
  const started = restart ? await client.apps.restart(app.guid) : await client.apps.start(app.guid);
  // The API's clock: crash events from before this start are not about it.
  const since = new Date(started.updated_at);
  await waitForStart(client, app, since, ui);
}

/** Waits (one step) until the app's web instances run, after a start that happened at `since` (API time). */
export async function waitForStart(client: ApiClient, app: App, since: Date, ui: Ui): Promise<void> {
  const { steps, bin } = ui;
  const web = await client.processes.get(app.guid);
  if (web.instances === 0) return;
  const outcome = await steps.step(
    `Waiting for app ${app.name} to start`,
    (update) => waitForInstances(client, app, web, since, { timeoutMs: startupTimeoutMs(healthCheckTimeout(web)), ui, update }),
    (stats) => instancesLine(stats, web.instances),
  );
  const notRunning = outcome.filter((s) => s.state !== 'RUNNING');
  if (notRunning.length > 0) {
    steps.warn(`${notRunning.length} of ${web.instances} instances of ${app.name} are not running yet (${notRunning.map((s) => `#${s.index} ${s.state.toLowerCase()}`).join(', ')}); '${bin} app ${app.name}' shows them.`);
  }
}

function healthCheckTimeout(web: Process): number | null {
  const timeout = web.health_check.data.timeout;
  return typeof timeout === 'number' ? timeout : null;
}

function instancesLine(stats: ProcessInstanceStats[], desired: number): string {
  const running = stats.filter((s) => s.state === 'RUNNING').length;
  return `${running} of ${desired} instance${desired === 1 ? '' : 's'} running`;
}

/** Instances are looked at this often at first, backing off (×1.2) to twice a second: a small app is up in a few hundred ms. */
const START_POLL = { initialMs: 50, maxMs: 500, factor: 1.2 };

/**
 * Polls the process's instances until all run. Fails like cf when every instance has crashed (now,
 * or each index at least once since `since` while none runs), and with `Start app timeout` when
 * nothing runs by the deadline; when some run by then, returns what there is.
 */
export async function waitForInstances(
  client: ApiClient,
  app: App,
  web: Process,
  since: Date,
  { timeoutMs, ui, update }: { timeoutMs: number; ui: Pick<Ui, 'bin' | 'logs'>; update?: (detail: string) => void },
): Promise<ProcessInstanceStats[]> {
  const desired = web.instances;
  let last: ProcessInstanceStats[] = [];
  return waitFor(
    `the instances of ${app.name} to run`,
    async () => {
      const stats = (last = await client.processes.instanceStats(web.guid));
      const running = stats.filter((s) => s.state === 'RUNNING').length;
      const crashedNow = stats.filter((s) => s.state === 'CRASHED').length;
      if (running >= desired && stats.length > 0) return stats;
      const states = ['STARTING', 'CRASHED', 'DOWN'].map((state) => [state, stats.filter((s) => s.state === state).length] as const).filter(([, n]) => n > 0);
      update?.([`${running} of ${desired} running`, ...states.map(([state, n]) => `${n} ${state.toLowerCase()}`)].join(', '));
      if (running === 0) {
        const crashes = await client.apps.crashEvents(app.guid, since);
        const crashedIndices = new Set(crashes.map((e) => e.data.index).filter((i): i is number => typeof i === 'number' && i < desired));
        if ((stats.length > 0 && crashedNow === stats.length) || crashedIndices.size >= desired) {
          throw new StartFailure(`Start unsuccessful\n\n${crashLines(crashes)}${moreInformationTip(ui, app.name)}`);
        }
      }
      return undefined;
    },
    {
      timeoutMs,
      backoff: START_POLL,
      retryIf: () => false,
      onTimeout: () => {
        // Some run: the caller says which do not.
        if (last.some((s) => s.state === 'RUNNING')) return last;
        throw new StartFailure(
          `Start app timeout\n\nTIP: Application must be listening on the right port. Instead of hard coding the port, use the $PORT environment variable.\n${moreInformationTip(ui, app.name)}`,
        );
      },
    },
  );
}

/** The newest crash of each instance: `   #0 crashed: APP/PROC/WEB: Exited with status 3`. */
function crashLines(crashes: AuditEvent[]): string {
  const byIndex = new Map<number, AuditEvent>();
  for (const event of crashes) {
    const index = event.data.index;
    if (typeof index === 'number' && !byIndex.has(index)) byIndex.set(index, event);
  }
  if (byIndex.size === 0) return '';
  const lines = [...byIndex.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, event]) => {
      const description = typeof event.data.exit_description === 'string' && event.data.exit_description ? event.data.exit_description : `exited with status ${String(event.data.exit_status ?? 'unknown')}`;
      return `   #${index} crashed: ${description}`;
    });
  return `${lines.join('\n')}\n\n`;
}
