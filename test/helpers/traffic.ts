// Steady HTTP traffic through a box's router, as a user's clients would send it, remembering every
// request's outcome so a test can ask, for any stretch of time, how many requests failed and for how
// long the app could not be reached at all.
import http from 'node:http';

export interface Outcome {
  /** When the request was sent and when its answer (or failure) came, epoch ms. */
  sentAt: number;
  doneAt: number;
  ok: boolean;
  /** Status code, or the socket error's code. */
  result: string;
}

export interface TrafficStats {
  requests: number;
  failed: number;
  /** The longest stretch from a failed request's start to the start of the next successful one, ms. */
  longestGapMs: number;
  /** What the failures were, e.g. { "502": 3, "ECONNREFUSED": 5 }. */
  failures: Record<string, number>;
}

export interface TrafficOptions {
  routerPort: number;
  /** The Host header, e.g. notes.localhost. */
  host: string;
  /** The path of each request; called once per request (so it can carry a counter). */
  path: () => string;
  /** Whether an answer counts as a success (default: status 200). */
  accept?: (status: number, body: string) => boolean;
  /** Pause between one answer and the next request. */
  pauseMs?: number;
  /** Each request is given up (a failure) after this long. */
  timeoutMs?: number;
  /** Called with each outcome and the path it was for, e.g. to remember acknowledged writes. */
  onOutcome?: (outcome: Outcome, path: string) => void;
}

/** One request on a fresh connection, as a client that does not keep connections would. */
function once(options: TrafficOptions, path: string): Promise<Outcome> {
  const sentAt = Date.now();
  return new Promise((resolve) => {
    const done = (ok: boolean, result: string) => resolve({ sentAt, doneAt: Date.now(), ok, result });
    const req = http.request({ host: '127.0.0.1', port: options.routerPort, path, headers: { host: `${options.host}:${options.routerPort}` }, agent: false, timeout: options.timeoutMs ?? 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        done((options.accept ?? ((s) => s === 200))(status, body), String(status));
      });
      res.on('error', (error: NodeJS.ErrnoException) => done(false, error.code ?? error.message));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => done(false, error.code ?? error.message));
    req.end();
  });
}

export class Traffic {
  readonly outcomes: Outcome[] = [];
  private running = false;
  private loop?: Promise<void>;

  constructor(private readonly options: TrafficOptions) {}

  start(): this {
    if (this.running) return this;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const path = this.options.path();
        const outcome = await once(this.options, path);
        this.outcomes.push(outcome);
        this.options.onOutcome?.(outcome, path);
        await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs ?? 20));
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The time of the latest successful request's answer, or 0. */
  lastSuccessAt(): number {
    for (let i = this.outcomes.length - 1; i >= 0; i--) if (this.outcomes[i].ok) return this.outcomes[i].doneAt;
    return 0;
  }

  /** Requests sent in [from, to]; a gap still open at `to` lasts until `to`. */
  stats(from: number, to = Date.now()): TrafficStats {
    const window = this.outcomes.filter((o) => o.sentAt >= from && o.sentAt <= to);
    const failures: Record<string, number> = {};
    let longestGapMs = 0;
    let gapStart: number | undefined;
    for (const o of window) {
      if (!o.ok) {
        failures[o.result] = (failures[o.result] ?? 0) + 1;
        gapStart ??= o.sentAt;
      } else if (gapStart !== undefined) {
        longestGapMs = Math.max(longestGapMs, o.sentAt - gapStart);
        gapStart = undefined;
      }
    }
    if (gapStart !== undefined) longestGapMs = Math.max(longestGapMs, to - gapStart);
    return { requests: window.length, failed: window.filter((o) => !o.ok).length, longestGapMs, failures };
  }
}
