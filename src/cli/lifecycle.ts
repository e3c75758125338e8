// Staging and starting as `push`, `restage`, `start`, `restart` and `scale` share them: a build from a
// package polled until STAGED or FAILED, the droplet made current, the app (re)started, and its
// instances watched until all run, or until they crash (`Start unsuccessful`), or time runs out.
import type { ApiClient } from './api/client.js';
import type { App, AuditEvent, Build, Deployment, Droplet, Process, ProcessInstanceStats } from './api/resources.js';
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
  if (id === 'NoAppDetectedError') tips.push(`TIP: 'devbox buildpacks' lists devbox's buildpacks (java, ruby, nodejs, go, python, php, staticfile, binary): name one with -b (binary needs -c COMMAND), or give your own buildpack directory with -b PATH.`);
  if (id === 'NoSuchBuildpack') tips.push(`TIP: 'devbox buildpacks' lists devbox's buildpacks (java, ruby, nodejs, go, python, php, staticfile, binary); a buildpack directory is given by its path.`);
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
 * Starts (or restarts) the app and waits until its processes run (one step: `Waiting for app NAME
 * to start...`). An app without instances is not waited for.
 */
export async function startAndWait(client: ApiClient, app: App, { restart }: { restart: boolean }, ui: Ui): Promise<void> {
  const started = restart ? await client.apps.restart(app.guid) : await client.apps.start(app.guid);
  // The API's clock: crash events from before this start are not about it.
  const since = new Date(started.updated_at);
  await waitForStart(client, app, since, ui);
}

/** How start, restart, restage and push replace running instances: all at once, or `rolling`. */
export const STRATEGIES = ['rolling'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Deployments are looked at this often (they move an instance at a time: seconds). */
const DEPLOYMENT_POLL = { initialMs: 200, maxMs: 1_000, factor: 1.3 };

/**
 * A rolling deployment of the droplet (the current one when none is given) and the wait for it (one
 * step: `Waiting for app NAME to deploy...`): until it is DEPLOYED, then until the app's other
 * processes run. `noWait` returns once a first new instance runs. A deployment that is canceled
 * (by a user, or by itself when new instances keep failing) fails with why; one that takes longer
 * than the startup timeout per instance is canceled, as cf does.
 */
export async function deployAndWait(client: ApiClient, app: App, dropletGuid: string | undefined, { noWait = false }: { noWait?: boolean }, ui: Ui): Promise<void> {
  const web = await client.processes.get(app.guid);
  const deployment = await client.apps.deploy(app.guid, dropletGuid);
  const since = new Date(deployment.created_at);
  const timeoutMs = startupTimeoutMs(healthCheckTimeout(web)) * Math.max(1, web.instances);
  const finished = await ui.steps.step(
    `Waiting for app ${app.name} to deploy`,
    (update) =>
      waitFor<Deployment | 'timed out'>(
        `the deployment of ${app.name}`,
        async () => {
          const d = await client.apps.deployment(deployment.guid);
          if (d.status.value === 'FINALIZED') return d;
          const stats = await client.processes.instanceStats(web.guid);
          const running = stats.filter((s) => s.state === 'RUNNING').length;
          update(`${running} of ${web.instances} new instance${web.instances === 1 ? '' : 's'} running`);
          return noWait && running > 0 ? d : undefined;
        },
        {
          timeoutMs,
          backoff: DEPLOYMENT_POLL,
          retryIf: () => false,
          onTimeout: () => 'timed out' as const,
        },
      ),
    (d) => (d === 'timed out' ? d : d.status.value === 'FINALIZED' ? d.status.reason.toLowerCase() : 'a first new instance runs'),
  );
  if (finished === 'timed out') {
    await client.apps.cancelDeployment(deployment.guid).catch(() => undefined);
    throw new StartFailure(`Start app timeout: the deployment of ${app.name} did not finish within ${Math.round(timeoutMs / 1000)} s and was canceled.\n\n${moreInformationTip(ui, app.name)}`);
  }
  if (finished.status.value === 'FINALIZED' && finished.status.reason !== 'DEPLOYED') {
    const why = finished.status.details?.error ? `: ${finished.status.details.error}` : '';
    throw new StartFailure(`Deployment of ${app.name} was ${finished.status.reason.toLowerCase()}${why}\n\n${moreInformationTip(ui, app.name)}`);
  }
  if (finished.status.value === 'FINALIZED') await waitForStart(client, app, since, ui);
}

/** What the wait found of one process: its instances as last reported, and the crashes since the start. */
export interface ProcessOutcome {
  process: Process;
  stats: ProcessInstanceStats[];
  crashes: AuditEvent[];
}

/**
 * Waits (one step) until each process of the app with instances runs, after a start that happened
 * at `since` (API time), as cf 7+ does: the app is usable once every process has a running
 * instance. Instances that crashed meanwhile do not hold the wait up; they are named with their
 * reason afterwards, as are those still starting at the deadline. A process all of whose instances
 * crashed fails the wait (`Start unsuccessful`).
 */
export async function waitForStart(client: ApiClient, app: App, since: Date, ui: Ui): Promise<void> {
  const { steps, bin } = ui;
  const processes = (await client.processes.ofApp(app.guid)).filter((p) => p.instances > 0);
  if (processes.length === 0) return;
  const progress = new Map<string, string>();
  const outcomes = await steps.step(
    `Waiting for app ${app.name} to start`,
    (update) =>
      Promise.all(
        processes.map((process) =>
          waitForInstances(client, app, process, since, {
            timeoutMs: startupTimeoutMs(healthCheckTimeout(process)),
            ui,
            update: (detail) => {
              progress.set(process.type, detail);
              update(processes.length === 1 ? detail : [...progress].map(([type, d]) => `${type}: ${d}`).join('; '));
            },
          }),
        ),
      ),
    (done) => done.map((o) => `${processes.length === 1 ? '' : `${o.process.type} `}${instancesLine(o.stats, o.process.instances)}`).join(', '),
  );
  for (const { process, stats, crashes } of outcomes) {
    const notRunning = stats.filter((s) => s.state !== 'RUNNING');
    if (notRunning.length === 0) continue;
    const crashed = latestCrashByIndex(crashes);
    const which = notRunning.map((s) => {
      const crash = crashed.get(s.index);
      return crash ? `#${s.index} crashed: ${crashDescription(crash)}` : `#${s.index} ${s.state.toLowerCase()}`;
    });
    steps.warn(`${notRunning.length} of ${process.instances} instances of ${app.name} (process ${process.type}) are not running (${which.join('; ')}); '${bin} app ${app.name}' shows them.`);
  }
}

function healthCheckTimeout(process: Process): number | null {
  const timeout = process.health_check.data.timeout;
  return typeof timeout === 'number' ? timeout : null;
}

function instancesLine(stats: ProcessInstanceStats[], desired: number): string {
  const running = stats.filter((s) => s.state === 'RUNNING').length;
  return `${running} of ${desired} instance${desired === 1 ? '' : 's'} running`;
}

/** Instances are looked at this often at first, backing off (×1.2) to twice a second: a small app is up in a few hundred ms. */
const START_POLL = { initialMs: 50, maxMs: 500, factor: 1.2 };

/**
 * Polls the process's instances until all run, or until one runs and every other has crashed since
 * `since` (it will not be usable soon; the crash is named). Fails like cf when every instance has
 * crashed (now, or each index at least once since `since` while none runs), and with `Start app
 * timeout` when nothing runs by the deadline; when some run by then, returns what there is.
 */
export async function waitForInstances(
  client: ApiClient,
  app: App,
  process: Process,
  since: Date,
  { timeoutMs, ui, update }: { timeoutMs: number; ui: Pick<Ui, 'bin' | 'logs'>; update?: (detail: string) => void },
): Promise<ProcessOutcome> {
  const desired = process.instances;
  let last: ProcessInstanceStats[] = [];
  let crashes: AuditEvent[] = [];
  const outcome = (): ProcessOutcome => ({ process, stats: last, crashes });
  return waitFor(
    `the instances of ${app.name} to run`,
    async () => {
      const stats = (last = await client.processes.instanceStats(process.guid));
      const running = stats.filter((s) => s.state === 'RUNNING').length;
      const crashedNow = stats.filter((s) => s.state === 'CRASHED').length;
      if (running >= desired && stats.length > 0) return outcome();
      const states = ['STARTING', 'CRASHED', 'DOWN'].map((state) => [state, stats.filter((s) => s.state === state).length] as const).filter(([, n]) => n > 0);
      update?.([`${running} of ${desired} running`, ...states.map(([state, n]) => `${n} ${state.toLowerCase()}`)].join(', '));
      crashes = (await client.apps.crashEvents(app.guid, since)).filter((e) => e.actor.guid === process.guid);
      const crashedIndices = new Set(crashes.map((e) => e.data.index).filter((i): i is number => typeof i === 'number' && i < desired));
      if (running === 0) {
        if ((stats.length > 0 && crashedNow === stats.length) || crashedIndices.size >= desired) {
          throw new StartFailure(`Start unsuccessful\n\n${crashLines(crashes)}${moreInformationTip(ui, app.name)}`);
        }
        return undefined;
      }
      // One runs: what has not started yet and has crashed since the start is not waited for.
      const waiting = stats.filter((s) => s.state !== 'RUNNING' && !crashedIndices.has(s.index));
      return waiting.length === 0 ? outcome() : undefined;
    },
    {
      timeoutMs,
      backoff: START_POLL,
      retryIf: () => false,
      onTimeout: () => {
        // Some run: the caller says which do not.
        if (last.some((s) => s.state === 'RUNNING')) return outcome();
        throw new StartFailure(
          `Start app timeout\n\nTIP: Application must be listening on the right port. Instead of hard coding the port, use the $PORT environment variable.\n${moreInformationTip(ui, app.name)}`,
        );
      },
    },
  );
}

/** The newest crash event of each index (the events come newest first). */
function latestCrashByIndex(crashes: AuditEvent[]): Map<number, AuditEvent> {
  const byIndex = new Map<number, AuditEvent>();
  for (const event of crashes) {
    const index = event.data.index;
    if (typeof index === 'number' && !byIndex.has(index)) byIndex.set(index, event);
  }
  return byIndex;
}

const crashDescription = (event: AuditEvent): string =>
  typeof event.data.exit_description === 'string' && event.data.exit_description ? event.data.exit_description : `exited with status ${String(event.data.exit_status ?? 'unknown')}`;

/** The newest crash of each instance: `   #0 crashed: APP/PROC/WEB: Exited with status 3`. */
function crashLines(crashes: AuditEvent[]): string {
  const byIndex = latestCrashByIndex(crashes);
  if (byIndex.size === 0) return '';
  const lines = [...byIndex.entries()].sort(([a], [b]) => a - b).map(([index, event]) => `   #${index} crashed: ${crashDescription(event)}`);
  return `${lines.join('\n')}\n\n`;
}

/** A started app as `up` left it: empty `problems` when it runs and answers on its routes. */
export interface StartedAppReport {
  app: App;
  /** Why it does not (wholly) run, one phrase each: a process that crashed (with why), is still starting, a route not routed yet. */
  problems: string[];
}

/** Routes are asked for this often once an app's instances run: the router learns them within milliseconds. */
const ROUTE_POLL = { initialMs: 20, maxMs: 250, factor: 1.5 };

/**
 * After `devbox up`: waits (one step, `Waiting for N apps to start`) until every app whose desired
 * state is STARTED runs again, in every space. Each process with instances is waited for as
 * `waitForInstances` does after a start at `since` (API time; crashes before it are not about this
 * start): until its instances run, or one runs and the others crashed, or all crashed, or its
 * startup timeout (`CF_STARTUP_TIMEOUT`, else its health check timeout and a grace) passes. Then,
 * with `routed`, until the router routes each of the app's routes to a running process, so that the
 * app answers once this returns. Nothing throws for an app: what does not run is said (a warning
 * per app) and returned; a failure of the API itself is thrown.
 */
export async function waitForStartedApps(
  client: ApiClient,
  since: Date,
  ui: Ui,
  { routed }: { routed?: (hostname: string, path: string) => Promise<boolean> } = {},
): Promise<StartedAppReport[]> {
  const started = (await client.list<App>('/v3/apps', { order_by: 'name' })).filter((a) => a.state === 'STARTED');
  if (started.length === 0) return [];
  const [processes, droplets] = await Promise.all([client.processes.ofApps(started.map((a) => a.guid)), Promise.all(started.map((a) => client.apps.currentDroplet(a.guid)))]);
  const apps = started
    .map((app, i) => ({ app, droplet: droplets[i], processes: processes.filter((p) => p.relationships.app.data.guid === app.guid && p.instances > 0) }))
    .filter((a) => a.processes.length > 0);
  if (apps.length === 0) return [];
  let ready = 0;
  const count = (n: number) => `${n} of ${apps.length} running`;
  const reports = await ui.steps.step(
    `Waiting for ${apps.length} app${apps.length === 1 ? '' : 's'} to start`,
    (update) =>
      Promise.all(
        apps.map(async ({ app, droplet, processes: own }) => {
          // The health manager never starts an app without a droplet: nothing to wait for.
          const report = droplet ? await waitForStartedApp(client, app, own, since, ui, routed) : { app, problems: [`it has no droplet ('${ui.bin} restage ${app.name}' stages one)`] };
          if (report.problems.length === 0) update(count(++ready));
          return report;
        }),
      ),
    (done) => count(done.filter((r) => r.problems.length === 0).length),
  );
  for (const { app, problems } of reports) if (problems.length > 0) ui.steps.warn(`App ${app.name} is not running: ${problems.join('; ')}.`);
  return reports;
}

async function waitForStartedApp(
  client: ApiClient,
  app: App,
  processes: Process[],
  since: Date,
  ui: Ui,
  routed: ((hostname: string, path: string) => Promise<boolean>) | undefined,
): Promise<StartedAppReport> {
  const problems: string[] = [];
  const running = new Set<string>();
  let deadline = Date.now();
  await Promise.all(
    processes.map(async (process) => {
      const timeoutMs = startupTimeoutMs(healthCheckTimeout(process));
      deadline = Math.max(deadline, Date.now() + timeoutMs);
      try {
        const outcome = await waitForInstances(client, app, process, since, { timeoutMs, ui });
        if (outcome.stats.some((s) => s.state === 'RUNNING')) running.add(process.type);
        const notRunning = notRunningInstances(outcome);
        if (notRunning) problems.push(notRunning);
      } catch (error) {
        if (!(error instanceof StartFailure)) throw error;
        problems.push(await whyNotStarted(client, app, process, since, timeoutMs, ui));
      }
    }),
  );
  if (routed && running.size > 0) {
    const routes = (await client.routes.ofApp(app.guid)).filter((r) => r.destinations.some((d) => d.app.guid === app.guid && running.has(d.app.process.type)));
    for (const route of routes) {
      const [hostname, ...rest] = route.url.split('/');
      const path = `/${rest.join('/')}`;
      const ok = await waitFor(`the router to route ${route.url}`, () => routed(hostname, path), { deadline, backoff: ROUTE_POLL, onTimeout: () => false as const });
      if (!ok) problems.push(`the router does not route ${route.url} yet`);
    }
  }
  return { app, problems };
}

/** `process worker: 1 of 3 instances not running (#1 crashed: ...; #2 starting)`, or undefined when all run. */
function notRunningInstances({ process, stats, crashes }: ProcessOutcome): string | undefined {
  const notRunning = stats.filter((s) => s.state !== 'RUNNING');
  if (notRunning.length === 0) return undefined;
  const crashed = latestCrashByIndex(crashes);
  const which = notRunning.map((s) => {
    const crash = crashed.get(s.index);
    return crash ? `#${s.index} crashed: ${crashDescription(crash)}` : `#${s.index} ${s.state.toLowerCase()}`;
  });
  return `process ${process.type}: ${notRunning.length} of ${process.instances} instances not running (${which.join(', ')})`;
}

/** Why no instance of the process runs: its crashes since the start (with their reason), else still starting at the limit. */
async function whyNotStarted(client: ApiClient, app: App, process: Process, since: Date, timeoutMs: number, ui: Ui): Promise<string> {
  const crashes = (await client.apps.crashEvents(app.guid, since)).filter((e) => e.actor.guid === process.guid);
  const byIndex = [...latestCrashByIndex(crashes).entries()].sort(([a], [b]) => a - b);
  if (byIndex.length > 0) {
    const lines = byIndex.map(([index, event]) => `#${index}: ${crashDescription(event)}`);
    return `process ${process.type} crashed (${lines.join(', ')}); ${moreInformationTip(ui, app.name).replace(/^TIP: Use /, 'use ')}`;
  }
  return `process ${process.type} is still starting after ${Math.round(timeoutMs / 1000)} s ('${ui.bin} app ${app.name}' shows its instances)`;
}
