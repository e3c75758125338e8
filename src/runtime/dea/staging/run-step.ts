// Runs one buildpack executable for real: its own process group (so a timeout or a shutdown kills
// everything it started), every line of its output handed to onLine as it comes, bounded in time.
import { spawn } from 'node:child_process';
import { forEachLine } from '../lines.js';

export interface StepOptions {
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
  /** The executable could not be started (ENOENT, EACCES...). */
  spawnError?: string;
}

const MAX_CAPTURE = 1024 * 1024;

export function killGroup(pid: number | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

export async function runStep(file: string, args: string[], options: StepOptions): Promise<StepResult> {
  const child = spawn(file, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let timedOut = false;
  let aborted = false;
  const onOut = (line: string) => {
    if (!options.captureStdout) options.onLine?.(line, 'OUT');
    else if (stdout.length < MAX_CAPTURE) stdout += `${line}\n`;
  };
  const outDone = forEachLine(child.stdout, onOut);
  const errDone = forEachLine(child.stderr, (line) => options.onLine?.(line, 'ERR'));

  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, Math.max(0, options.deadline - Date.now()));
  const onAbort = () => {
    aborted = true;
    killGroup(child.pid);
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: string }>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, spawnError: `${error.code ?? ''} ${error.message}`.trim() }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  options.signal?.removeEventListener('abort', onAbort);
  // Whatever the step left running in its group (a daemon holding the pipes) goes with it.
  killGroup(child.pid);
  await Promise.race([Promise.all([outDone, errDone]), new Promise((resolve) => setTimeout(resolve, 2_000))]);
  return { ...result, stdout, timedOut, aborted };
}
