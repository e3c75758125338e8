// Syslog drains (docs/logs.md, "Syslog drains"): the logs component's part of Loggregator's syslog
// agent and binding cache. It reads which apps have drains from the controller, as the binding cache
// reads Cloud Controller (`GET /internal/v4/syslog_drain_urls`, paged by `next_id`, with a components
// token from uaa), at start and then every poll interval, and hands each of those apps' lines (every
// line `cf logs` shows: the app's output and the platform's) to one DrainWriter per drain.
//
// The controller out of reach (or answering nonsense) is said once in the component's log, and again
// only when the reason changes; the drains known from the last good read go on meanwhile (as the
// binding cache keeps its last list). Nothing here can stop the logs component: forwarding is a map
// lookup and a queue append per drain, and a drain that is down or slow only loses its own oldest
// lines.
//
// What goes wrong with a drain is also said in the app's own logs, as Loggregator does, in `LGR`
// lines (source LGR, instance 0, ERR), each kind at most once a minute per drain: a URL that cannot be
// used, a connection that fails (or that the guard refuses), messages lost from a full queue, an
// HTTP drain that keeps refusing messages.
import type { LogEnvelope } from '../common/bus-messages.js';
import { ComponentsToken, describeBody } from '../common/components-token.js';
import { request, type HttpResponse } from '../common/http.js';
import type { Logger } from '../common/log.js';
import { backoffDelay } from '../common/poll.js';
import { parseDrainUrl, type DrainTarget } from './drain-url.js';
import type { GuardDecision } from './drain-guard.js';
import { isAppGuid } from './envelope.js';
import { toRfc5424 } from './rfc5424.js';
import { DrainWriter, type DrainProblem, type DrainTls, type DrainWriterOptions } from './syslog-writer.js';

export const SYSLOG_DRAIN_URLS_PATH = '/internal/v4/syslog_drain_urls';

/** Failures of the first reads this soon after start are the box starting, not trouble. */
const START_GRACE_MS = 30_000;

/** One app's drains as the controller lists them. */
export interface AppDrainUrls {
  drains: string[];
  hostname: string;
}

export interface DrainManagerOptions {
  /** http://api.<domain>:<router port> */
  apiUrl: string;
  /** http://uaa.<domain>:<router port> */
  uaaUrl: string;
  clientId: string;
  clientSecret: string;
  pollMs: number;
  /** Bound of each request to uaa and the controller. */
  timeoutMs: number;
  /** Apps asked for per page (Loggregator's binding cache asks for 1,000). */
  batchSize?: number;
  /** Drains used per app; more are left out (Loggregator's BINDING_PER_APP_LIMIT, 5). */
  perApp: number;
  queueLines: number;
  queueBytes: number;
  tls: DrainTls;
  check: (host: string, port: number) => Promise<GuardDecision>;
  log: Logger;
  /** Writes an `LGR` line into the app's logs. */
  emit: (appGuid: string, message: string) => void;
  /** Timings of the writers (tests). */
  writer?: Pick<DrainWriterOptions, 'dialTimeoutMs' | 'writeTimeoutMs' | 'idleMs' | 'backoff' | 'httpAttempts' | 'checkCacheMs'>;
  /** How often one kind of trouble of one drain is said in the app's logs (default 60 s); lost messages are summed over it. */
  warnEveryMs?: number;
}

export interface DrainPollStats {
  polls: number;
  poll_failures: number;
  last_poll: string | null;
  last_poll_ok: boolean | null;
  last_poll_error: string | null;
  last_good_poll: string | null;
}

interface Drain {
  app: string;
  target: DrainTarget;
  writer: DrainWriter;
  /** Kind of trouble → when it was last said in the app's logs. */
  saidAt: Map<string, number>;
  /** Messages lost and not yet said. */
  lostUnsaid: number;
  lostTimer?: NodeJS.Timeout;
  loggedFailure?: string;
}

interface AppEntry {
  hostname: string;
  drains: Map<string, Drain>;
}

/** Validates the endpoint's answer; anything malformed fails the whole read (the last good list stays). */
export function parseSyslogDrainUrls(text: string): { results: Map<string, AppDrainUrls>; nextId: number | null } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error('the syslog drain list is not JSON');
  }
  const o = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const results = o.results;
  if (typeof results !== 'object' || results === null || Array.isArray(results)) throw new Error("the syslog drain list has no 'results' object");
  const out = new Map<string, AppDrainUrls>();
  for (const [guid, value] of Object.entries(results as Record<string, unknown>)) {
    const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    if (!Array.isArray(v.drains) || !v.drains.every((d) => typeof d === 'string')) throw new Error(`app ${guid} of the syslog drain list has no valid 'drains'`);
    if (typeof v.hostname !== 'string') throw new Error(`app ${guid} of the syslog drain list has no valid 'hostname'`);
    out.set(guid, { drains: v.drains as string[], hostname: v.hostname });
  }
  const next = o.next_id;
  if (next !== null && next !== undefined && (typeof next !== 'number' || !Number.isSafeInteger(next) || next < 0)) throw new Error("the syslog drain list has an invalid 'next_id'");
  return { results: out, nextId: typeof next === 'number' && next > 0 ? next : null };
}

export class DrainManager {
  private readonly apps = new Map<string, AppEntry>();
  /** `<app> <url>` of URLs that cannot be used, said once while they stay bound. */
  private readonly unusable = new Map<string, string>();
  private readonly tokens: ComponentsToken;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<boolean> | undefined;
  private failing = false;
  /** The first reads failed while the box was starting (said at info level). */
  private waitedAtStart = false;
  private readonly stats: DrainPollStats = { polls: 0, poll_failures: 0, last_poll: null, last_poll_ok: null, last_poll_error: null, last_good_poll: null };
  /** Totals of drains closed since start (live ones are added in varz). */
  private readonly closedTotals = { sent: 0, dropped: 0, rejected: 0, failures: 0 };
  private forwarded = 0;
  private startedAt = 0;

  constructor(private readonly options: DrainManagerOptions) {
    this.tokens = new ComponentsToken(options);
  }

  /**
   * Reads the drains now, then every poll interval (measured from the end of each read). Until the
   * first good read (the box is starting: the router, uaa and the controller come up alongside)
   * it asks again sooner, 250 ms doubling up to the interval, so that an app started again by
   * `devbox up` has its first lines drained.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.startedAt = Date.now();
    let attempts = 0;
    const loop = () => {
      this.timer = undefined;
      if (!this.running) return;
      void this.pollOnce().finally(() => {
        if (!this.running) return;
        const delay = this.stats.last_good_poll === null ? backoffDelay({ initialMs: 250, maxMs: this.options.pollMs }, attempts++) : this.options.pollMs;
        this.timer = setTimeout(loop, delay);
        this.timer.unref();
      });
    };
    loop();
  }

  /** Stops polling and closes every drain (what is queued is let go). */
  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const [guid, app] of this.apps) for (const url of [...app.drains.keys()]) this.removeDrain(guid, app, url);
    this.apps.clear();
  }

  /** Hands one line to the app's drains (nothing when it has none). */
  forward(envelope: LogEnvelope): void {
    const app = this.apps.get(envelope.app_guid);
    if (!app) return;
    let plain: Buffer | undefined;
    let bare: Buffer | undefined;
    for (const drain of app.drains.values()) {
      if (!drain.target.logs) continue;
      const message = drain.target.omitMetadata ? (bare ??= toRfc5424(envelope, { hostname: app.hostname, omitMetadata: true })) : (plain ??= toRfc5424(envelope, { hostname: app.hostname }));
      drain.writer.enqueue(message);
      this.forwarded++;
    }
  }

  /** The drains of an app, by URL as bound (tests, varz). */
  drainsOf(appGuid: string): DrainWriter[] {
    return [...(this.apps.get(appGuid)?.drains.values() ?? [])].map((d) => d.writer);
  }

  /** One read of every page; resolves true when it replaced the drains. Concurrent calls share one. */
  pollOnce(): Promise<boolean> {
    this.inFlight ??= this.poll().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  varz(): Record<string, unknown> {
    const live = { sent: 0, dropped: 0, rejected: 0, failures: 0, queued: 0 };
    const drains: Record<string, unknown>[] = [];
    let count = 0;
    for (const [guid, app] of this.apps) {
      for (const drain of app.drains.values()) {
        count++;
        const w = drain.writer;
        live.sent += w.counters.sent;
        live.dropped += w.counters.dropped;
        live.rejected += w.counters.rejected;
        live.failures += w.counters.failures;
        live.queued += w.queued;
        // Each drain, for the first 100: enough to see one's trouble without a huge /varz.
        if (drains.length < 100) drains.push({ app_guid: guid, url: drain.target.anonymized, state: w.state, queued: w.queued, ...w.counters, last_error: w.lastError });
      }
    }
    return {
      ...this.stats,
      apps: this.apps.size,
      drains: count,
      lines_forwarded: this.forwarded,
      sent: this.closedTotals.sent + live.sent,
      dropped: this.closedTotals.dropped + live.dropped,
      rejected: this.closedTotals.rejected + live.rejected,
      failures: this.closedTotals.failures + live.failures,
      queued: live.queued,
      unusable: this.unusable.size,
      list: drains,
    };
  }

  private async poll(): Promise<boolean> {
    const startedAt = Date.now();
    this.stats.polls++;
    this.stats.last_poll = new Date(startedAt).toISOString();
    try {
      const all = await this.readAll();
      if (!this.running) return false;
      this.reconcile(all);
      this.stats.last_poll_ok = true;
      this.stats.last_poll_error = null;
      this.stats.last_good_poll = new Date(startedAt).toISOString();
      if (this.failing) this.options.log.info(this.waitedAtStart ? 'syslog drains read' : 'syslog drains readable again', { apps: this.apps.size });
      this.failing = false;
      this.waitedAtStart = false;
      return true;
    } catch (error) {
      if (!this.running) return false;
      const message = (error as Error).message;
      this.stats.poll_failures++;
      this.stats.last_poll_ok = false;
      const starting = this.stats.last_good_poll === null && Date.now() - this.startedAt < START_GRACE_MS;
      if (starting) {
        // The box is starting: the controller comes up alongside. Said once, not as a warning.
        if (!this.waitedAtStart) this.options.log.info('waiting for the controller to list the syslog drains', { error: message });
        this.waitedAtStart = true;
      } else if (!this.failing || this.stats.last_poll_error !== message || this.waitedAtStart) {
        this.options.log.warn('cannot read the syslog drains from the controller; the drains known go on, and it is asked again every poll', {
          error: message,
          poll_ms: this.options.pollMs,
          last_good: this.stats.last_good_poll,
        });
        this.waitedAtStart = false;
      }
      this.stats.last_poll_error = message;
      this.failing = true;
      return false;
    }
  }

  /** Every page, in order; a page that does not move on ends the read with an error. */
  private async readAll(): Promise<Map<string, AppDrainUrls>> {
    const all = new Map<string, AppDrainUrls>();
    const batch = this.options.batchSize ?? 1000;
    let nextId = 0;
    for (let pages = 0; ; pages++) {
      if (pages >= 100_000) throw new Error('the syslog drain list did not end after 100,000 pages');
      const page = parseSyslogDrainUrls((await this.getPage(nextId, batch)).text);
      for (const [guid, drains] of page.results) all.set(guid, drains);
      if (page.nextId === null) return all;
      if (page.nextId <= nextId) throw new Error(`the syslog drain list's next_id went back (${nextId} → ${page.nextId})`);
      nextId = page.nextId;
    }
  }

  private async getPage(nextId: number, batchSize: number): Promise<HttpResponse> {
    const url = `${this.options.apiUrl}${SYSLOG_DRAIN_URLS_PATH}?batch_size=${batchSize}&next_id=${nextId}`;
    const get = async () =>
      request({ url, headers: { authorization: `bearer ${await this.tokens.get()}`, accept: 'application/json' }, timeoutMs: this.options.timeoutMs });
    let res = await get();
    if (res.status === 401) {
      // The token expired, or uaa restarted with another key: one new token, one more try.
      this.tokens.forget();
      res = await get();
    }
    if (res.status !== 200) throw new Error(`GET ${SYSLOG_DRAIN_URLS_PATH} answered ${res.status}${describeBody(res)}`);
    return res;
  }


  /** Makes the drains what the controller says: new ones opened, gone ones closed, hostnames updated. */
  private reconcile(all: Map<string, AppDrainUrls>): void {
    const stillUnusable = new Set<string>();
    for (const [guid, listed] of all) {
      if (!isAppGuid(guid)) {
        this.options.log.warn('the syslog drain list names an app guid that cannot be one; left out', { app_guid: guid.slice(0, 80) });
        continue;
      }
      const urls = [...new Set(listed.drains.map((d) => d.trim()).filter((d) => d !== ''))];
      let app = this.apps.get(guid);
      if (!app) {
        app = { hostname: listed.hostname, drains: new Map() };
        this.apps.set(guid, app);
      }
      app.hostname = listed.hostname;
      const wanted = new Set<string>();
      for (const raw of urls) {
        const key = `${guid} ${raw}`;
        const parsed = parseDrainUrl(raw);
        let reason: string | undefined;
        if (!parsed.ok) reason = parsed.reason;
        else if (wanted.size >= this.options.perApp) reason = `Syslog drain ${parsed.target.anonymized} is not used: an app drains to at most ${this.options.perApp} URLs (DEVBOX_LOGS_DRAINS_PER_APP)`;
        if (reason !== undefined) {
          stillUnusable.add(key);
          if (this.unusable.get(key) !== reason) {
            this.unusable.set(key, reason);
            this.options.log.warn('a syslog drain cannot be used', { app_guid: guid, url: parsed.ok ? parsed.target.anonymized : parsed.anonymized, reason });
            this.options.emit(guid, reason);
          }
          continue;
        }
        if (!parsed.ok) continue;
        wanted.add(raw);
        if (!app.drains.has(raw)) this.addDrain(guid, app, raw, parsed.target);
      }
      for (const url of [...app.drains.keys()]) if (!wanted.has(url)) this.removeDrain(guid, app, url);
      if (app.drains.size === 0) this.apps.delete(guid);
    }
    for (const [guid, app] of this.apps) {
      if (all.has(guid)) continue;
      for (const url of [...app.drains.keys()]) this.removeDrain(guid, app, url);
      this.apps.delete(guid);
    }
    for (const key of [...this.unusable.keys()]) if (!stillUnusable.has(key)) this.unusable.delete(key);
  }

  private addDrain(guid: string, app: AppEntry, raw: string, target: DrainTarget): void {
    let drain: Drain | undefined = undefined;
    const writer = new DrainWriter({
      target,
      check: this.options.check,
      queueLines: this.options.queueLines,
      queueBytes: this.options.queueBytes,
      tls: this.options.tls,
      ...this.options.writer,
      onProblem: (problem) => {
        if (drain) this.onProblem(drain, problem);
      },
    });
    drain = { app: guid, target, writer, saidAt: new Map(), lostUnsaid: 0 };
    app.drains.set(raw, drain);
    this.options.log.info('syslog drain added', { app_guid: guid, url: target.anonymized, logs: target.logs });
  }

  private removeDrain(guid: string, app: AppEntry, raw: string): void {
    const drain = app.drains.get(raw);
    if (!drain) return;
    app.drains.delete(raw);
    const w = drain.writer;
    this.closedTotals.sent += w.counters.sent;
    this.closedTotals.dropped += w.counters.dropped;
    this.closedTotals.rejected += w.counters.rejected;
    this.closedTotals.failures += w.counters.failures;
    if (drain.lostTimer) clearTimeout(drain.lostTimer);
    w.close();
    this.options.log.info('syslog drain removed', { app_guid: guid, url: drain.target.anonymized, sent: w.counters.sent, dropped: w.counters.dropped });
  }

  /** Whether this kind of trouble of this drain may be said again now (at most once per warnEveryMs). */
  private maySay(drain: Drain, kind: string): boolean {
    const every = this.options.warnEveryMs ?? 60_000;
    const last = drain.saidAt.get(kind);
    if (last !== undefined && Date.now() - last < every) return false;
    drain.saidAt.set(kind, Date.now());
    return true;
  }

  private onProblem(drain: Drain, problem: DrainProblem): void {
    if (drain.writer.state === 'closed') return;
    const { log } = this.options;
    const url = drain.target.anonymized;
    switch (problem.kind) {
      case 'failed': {
        // The component's log: the first failure of a run, and each new reason.
        if (problem.failures === 1 || drain.loggedFailure !== problem.error) {
          log.warn(problem.refused ? 'syslog drain refused' : 'cannot write to a syslog drain; retrying with backoff', { app_guid: drain.app, url, error: problem.error, retry_in_ms: problem.retryInMs });
          drain.loggedFailure = problem.error;
        }
        // A drain that answered is not said at each try: if it keeps refusing, `rejected` says so.
        if (problem.answered === undefined && this.maySay(drain, problem.refused ? 'refused' : 'failed')) {
          this.options.emit(drain.app, problem.refused ? `Syslog drain ${url} is not used: ${problem.error}` : `Failed to connect to ${url}: ${problem.error}`);
        }
        break;
      }
      case 'recovered':
        log.info('syslog drain writable again', { app_guid: drain.app, url, after_failures: problem.afterFailures });
        drain.loggedFailure = undefined;
        drain.saidAt.delete('failed');
        drain.saidAt.delete('refused');
        break;
      case 'rejected':
        log.warn('a syslog drain refused a message; it was dropped', { app_guid: drain.app, url, status: problem.status, attempts: problem.attempts });
        if (this.maySay(drain, 'rejected')) this.options.emit(drain.app, `Syslog drain ${url} answered HTTP ${problem.status} ${problem.attempts} times; the message was dropped`);
        break;
      case 'dropped': {
        drain.lostUnsaid += problem.count;
        if (drain.lostTimer) break;
        // Summed over the interval, then said once: `N messages lost`, as Loggregator's diode alert.
        const say = () => {
          drain.lostTimer = undefined;
          const n = drain.lostUnsaid;
          drain.lostUnsaid = 0;
          if (n === 0 || drain.writer.state === 'closed') return;
          log.warn('syslog drain queue full; the oldest messages were dropped', { app_guid: drain.app, url, dropped: n, dropped_total: drain.writer.counters.dropped });
          this.options.emit(drain.app, `${n} messages lost for application ${drain.app} in user provided syslog drain with url ${url}`);
        };
        const last = drain.saidAt.get('dropped');
        const every = this.options.warnEveryMs ?? 60_000;
        const wait = last === undefined ? 0 : Math.max(0, last + every - Date.now());
        drain.saidAt.set('dropped', Date.now() + wait);
        drain.lostTimer = setTimeout(say, wait);
        drain.lostTimer.unref();
        break;
      }
    }
  }
}

