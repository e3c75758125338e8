// Every bounded wait in devbox, one way: poll a condition until it holds (`waitFor`), or retry an
// operation while it fails in a way worth retrying (`retry`), with a fixed interval or a backoff
// between attempts, never past a deadline. Write one of these rather than a `for (;;) { ...; await
// sleep(...) }` loop, so that every wait is bounded and says what it waited for.
//
//     await waitFor('the API on port 8080', () => isListening(8080), { timeoutMs: 5_000 });
//     const build = await waitFor(`staging ${app}`, async () => done(await client.build(guid)), {
//       timeoutMs, backoff: { initialMs: 50, maxMs: 1_000, factor: 1.2 }, retryIf: () => false });
//     const ws = await retry(() => connect(), { timeoutMs: 10_000, backoff: { initialMs: 250, maxMs: 5_000 }, retryIf: isTransient });
//
// Timers that retry on an event (a child process exited, a connection closed) are not loops; they
// use `backoffDelay` for the same growing delays.

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A wait that grows between attempts: `initialMs`, then ×`factor` (default 2) each time, at most
 * `maxMs`. Work that is usually quick (staging a small app) is looked at often at first, and a long
 * wait does not hammer whoever is asked.
 */
export interface Backoff {
  initialMs: number;
  maxMs: number;
  factor?: number;
}

/** The wait after the `n`th failed attempt (n = 0: `initialMs`). */
export function backoffDelay({ initialMs, maxMs, factor = 2 }: Backoff, n: number): number {
  return Math.min(maxMs, initialMs * factor ** n);
}

export interface PollOptions {
  /** Give up this long after starting (ms; default 10 s). `Infinity` waits for good. */
  timeoutMs?: number;
  /** Or give up at this time (`Date.now()` ms): a deadline several waits share. */
  deadline?: number;
  /** The wait between attempts (ms; default 25) ... */
  intervalMs?: number;
  /** ... or a growing one. */
  backoff?: Backoff;
  /** Wait before the first attempt too: the caller has just started what it now polls. */
  delayFirst?: boolean;
  /** Which errors of an attempt mean "not yet, try again"; any other ends the wait at once, thrown as it is. */
  retryIf?: (error: unknown) => boolean;
}

export interface WaitOptions<T> extends PollOptions {
  /**
   * What happens when time runs out, instead of the default error: return a value (what there is
   * so far) or throw the caller's own error. Gets the last error an attempt threw, if any.
   */
  onTimeout?: (lastError: unknown) => T;
}

/**
 * Calls `check` until it returns a value other than undefined/false and returns that value. When
 * the time is up: `onTimeout`, else an error `timed out after N ms waiting for <what>` naming the
 * last error `check` threw. Errors `check` throws count as "not yet" unless `retryIf` says otherwise
 * (`retryIf: () => false`: any error ends the wait).
 *
 * The last attempt is made at the deadline: the wait before it is shortened to end there.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, options: WaitOptions<T> = {}): Promise<T> {
  const { onTimeout, retryIf = () => true } = options;
  return poll(check, options, retryIf, (lastError) => {
    if (onTimeout) return onTimeout(lastError);
    const after = options.deadline === undefined ? ` after ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms` : '';
    const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
    throw new Error(`timed out${after} waiting for ${what}${cause}`);
  });
}

/**
 * Calls `operation` until it resolves, again after each error `retryIf` accepts, and returns what
 * it resolved to. Throws an error `retryIf` refuses at once, and the last error once time is up.
 */
export async function retry<T>(operation: () => Promise<T>, options: PollOptions & { retryIf: (error: unknown) => boolean }): Promise<T> {
  const done = await poll(
    async () => ({ value: await operation() }),
    options,
    options.retryIf,
    (lastError) => {
      throw lastError;
    },
  );
  return done.value;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_INTERVAL_MS = 25;

async function poll<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: PollOptions,
  retryIf: (error: unknown) => boolean,
  timedOut: (lastError: unknown) => T,
): Promise<T> {
  const deadline = options.deadline ?? Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let waits = 0;
  const nextInterval = () => (options.backoff ? backoffDelay(options.backoff, waits++) : (options.intervalMs ?? DEFAULT_INTERVAL_MS));
  if (options.delayFirst) await sleep(Math.min(nextInterval(), Math.max(0, deadline - Date.now())));
  let lastError: unknown;
  // The wait that reaches the deadline is cut short to end there, and the attempt after it is the
  // last (a timer firing a millisecond early must not buy another round).
  let last = false;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (!retryIf(error)) throw error;
      lastError = error;
    }
    const remaining = deadline - Date.now();
    if (last || remaining <= 0) return timedOut(lastError);
    const interval = nextInterval();
    last = interval >= remaining;
    await sleep(Math.min(interval, remaining));
  }
}
