// The progress of long work (push, restage, start): at a terminal each step is a listr2 task whose
// title follows the work (bytes uploaded, instances running) and ends ticked with its outcome; in a
// pipe, in CI or on a terminal too narrow to draw in (under 20 columns) the same steps are plain lines
// in cf's words (`Uploading files...`), the outcome indented beneath. A terminal that reports 0
// columns is drawn at 80.

export interface Steps {
  /** A plain line of progress (stdout). */
  line(text: string): void;
  /** A warning (stderr). */
  warn(text: string): void;
  /**
   * Runs one step. `update` may be called with the state of the work (shown at a terminal only),
   * `output` with lines the step prints beneath its title (the buildpack's, while staging); `done`
   * turns the result into the line shown once the step has finished.
   */
  step<T>(title: string, run: StepRun<T>, done?: (result: T) => string | undefined): Promise<T>;
}

/** The width taken for a terminal that reports none: 0 or no columns (a pty nobody sized, `script`, a serial console). */
export const FALLBACK_COLUMNS = 80;
/** Narrower than this, a drawn task list is mostly wrapping: the steps are plain lines instead. */
export const MIN_COLUMNS = 20;

/** The width progress is drawn at: the terminal's, 80 when it reports 0 or nothing, undefined when too narrow to draw. */
export function progressColumns(columns: number | undefined): number | undefined {
  if (columns === undefined || !Number.isFinite(columns) || columns <= 0) return FALLBACK_COLUMNS;
  return columns >= MIN_COLUMNS ? Math.floor(columns) : undefined;
}

interface Terminal {
  isTTY?: boolean;
  columns?: number;
  on?(event: 'resize', listener: () => void): unknown;
}
const sized = new WeakSet<object>();

/**
 * listr2 wraps its lines at `process.stdout.columns - 2`: a terminal that reports 0 columns made
 * that -2, one character per line. Such a terminal gets FALLBACK_COLUMNS, again after each resize
 * that reports 0 (Node sets `columns` on SIGWINCH, then emits 'resize').
 */
export function sizeTerminal(stream: Terminal = process.stdout): void {
  if (!stream.isTTY) return;
  const fix = () => {
    if (!(typeof stream.columns === 'number' && stream.columns > 0)) stream.columns = FALLBACK_COLUMNS;
  };
  fix();
  if (!sized.has(stream)) {
    sized.add(stream);
    stream.on?.('resize', fix);
  }
}

/** A person watches: stdout is a terminal wide enough to draw in (or reporting no width), and this is not CI. */
export function liveProgress(stream: Terminal = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!stream.isTTY && !env.CI && progressColumns(stream.columns) !== undefined;
}

type Print = (text: string) => void;
export type StepRun<T> = (update: (detail: string) => void, output: (line: string) => void) => Promise<T>;

export function createSteps(log: Print, warn: Print, live = liveProgress()): Steps {
  return live ? new ListrSteps(log, warn) : new PlainSteps(log, warn);
}

class PlainSteps implements Steps {
  constructor(
    private readonly log: Print,
    readonly warn: Print,
  ) {}

  line(text: string): void {
    this.log(text);
  }

  async step<T>(title: string, run: StepRun<T>, done?: (result: T) => string | undefined): Promise<T> {
    this.log(`${title}...`);
    const result = await run(
      () => undefined,
      (line) => this.log(`   ${line}`),
    );
    const outcome = done?.(result);
    if (outcome) this.log(`   ${outcome}`);
    return result;
  }
}

class ListrSteps implements Steps {
  constructor(
    private readonly log: Print,
    readonly warn: Print,
  ) {}

  line(text: string): void {
    this.log(text);
  }

  async step<T>(title: string, run: StepRun<T>, done?: (result: T) => string | undefined): Promise<T> {
    // Loaded here, at a terminal only: every command imports this module (~15 ms at start otherwise).
    const { Listr } = await import('listr2');
    sizeTerminal();
    let result!: T;
    const tasks = new Listr(
      [
        {
          title,
          // Output lines (staging) stay beneath the task, all of them, as cf prints them.
          rendererOptions: { outputBar: Infinity, persistentOutput: true },
          task: async (_ctx: unknown, task: { title: string | undefined; output: string | undefined }) => {
            let last = 0;
            result = await run(
              (detail) => {
                // A title change redraws the line: at most ten a second.
                const now = Date.now();
                if (now - last < 100) return;
                last = now;
                task.title = `${title} (${detail})`;
              },
              (line) => (task.output = line),
            );
            const outcome = done?.(result);
            task.title = outcome ? `${title}: ${outcome}` : title;
          },
        },
      ],
      // The error itself is printed once, by the command (FAILED and the reason): the task only shows ✖.
      { exitOnError: true, rendererOptions: { showErrorMessage: false, collapseErrors: false } },
    );
    await tasks.run();
    return result;
  }
}
