// Runs one buildpack executable for real, in the staging's container (containers/container.ts):
// every line of its output handed to onLine as it comes, bounded in time. A timeout or an abort
// kills everything in the container (not only the step's process group: a `setsid` child too), and
// so does the end of a step (what it left running, a daemon holding the pipes, goes with it).
import type { Container } from '../containers/container.js';
import { forEachLine } from '../lines.js';

export interface StepOptions {
  /** The staging's container: the step runs in it, as the container's user. */
  container: Container;
  /** The working directory, as the container sees it. */
  cwd: string;
  env: Record<string, string>;
  /** Absolute time (ms since the epoch) after which the step is killed. */
  deadline: number;
  signal?: AbortSignal;
  /** Each line of stdout (OUT) and stderr (ERR). */
  onLine?: (line: string, stream: 'OUT' | 'ERR') => void;
  /** Keep stdout (for detect and release) instead of streaming it. */
  captureStdout?: boolean;
}

export interface StepResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  timedOut: boolean;
  aborted: boolean;
  /** The kernel's OOM killer acted in the container's cgroup during the step. */
  outOfMemory: boolean;
  /** The container's process could not be started (ENOENT, EACCES...). */
  spawnError?: string;
}

const MAX_CAPTURE = 1024 * 1024;

/** Runs `file args` (paths as the container sees them) in the container. */
export async function runStep(file: string, args: string[], options: StepOptions): Promise<StepResult> {
  const { container } = options;
  const child = container.run([file, ...args], { cwd: options.cwd, env: options.env });
  let stdout = '';
  let timedOut = false;
  let aborted = false;
  const onOut = (line: string) => {
    if (!options.captureStdout) options.onLine?.(line, 'OUT');
    else if (stdout.length < MAX_CAPTURE) stdout += `${line}\n`;
  };
  const outDone = forEachLine(child.stdout!, onOut);
  const errDone = forEachLine(child.stderr!, (line) => options.onLine?.(line, 'ERR'));

  const timer = setTimeout(() => {
    timedOut = true;
    container.kill();
  }, Math.max(0, options.deadline - Date.now()));
  const onAbort = () => {
    aborted = true;
    container.kill();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: string }>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, spawnError: `${error.code ?? ''} ${error.message}`.trim() }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', onAbort);
  // Whatever the step left running in the container goes with it.
  container.kill();
  await Promise.race([Promise.all([outDone, errDone]), new Promise((resolve) => setTimeout(resolve, 2_000))]);
  return { ...result, stdout, timedOut, aborted, outOfMemory: container.cgroup?.oomKilled() ?? false };
}
