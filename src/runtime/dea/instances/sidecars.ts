// Sidecars (CC v3) in an instance's container, as Diego runs them beside the app (docs/dea.md,
// "Sidecars"). An instance with sidecars starts a small bash supervisor in its container instead of
// the launcher: it starts each sidecar and the app through the launcher (profile scripts, fds
// limit), in the background, each with its own output pipes, and reports on a pipe of its own
// (fd 3) which of them ended first and how. The first to end ends the instance: the supervisor
// exits, and with it the container and everything in it (a crash, as Diego's codependent actions).
// When the DEA stops the instance, every process of the container gets SIGTERM: the supervisor
// then waits for all of them before it exits, so the app ends as it would alone.
//
// Pipes of the container's process: 1 and 2 the app's stdout and stderr, 3 the supervisor's
// report ("app STATUS" or "sidecar INDEX STATUS" when one ends), then 4 + 2i and 5 + 2i sidecar
// i's stdout and stderr. Each command gets its own two only (the others are closed for it).
import type { Readable } from 'node:stream';
import { sidecarPortVariable, type SidecarStart, type StartMessage } from '../../common/bus-messages.js';
import { forEachLine } from '../lines.js';
import { LAUNCHER } from './launcher.js';

//   bash -c SUPERVISOR devbox-supervisor <fds limit or ""> <app command> <n> [<command> <MEMORY_LIMIT> <VCAP_APPLICATION>]×n
export const SUPERVISOR = [
  '__fds=$1 __app=$2 __n=$3',
  'shift 3',
  '__last=$((3 + 2 * __n))',
  "trap '__stopping=1' TERM",
  // One command through the launcher, in the background, in a subshell that outlives it (a SIGTERM
  // for the subshell waits until the command has ended) to report how it ended.
  '__start() {',
  '  (',
  '    trap : TERM',
  '    __who=$1 __out=$2 __err=$3 __command=$4',
  '    if [ -n "${5:-}" ]; then export MEMORY_LIMIT="$5" VCAP_APPLICATION="$6"; fi',
  '    __f=4',
  '    while [ "$__f" -le "$__last" ]; do',
  '      if [ "$__f" != "$__out" ] && [ "$__f" != "$__err" ]; then exec {__f}>&-; fi',
  '      __f=$((__f + 1))',
  '    done',
  '    exec >&"$__out" 2>&"$__err"',
  '    if [ "$__out" -gt 3 ]; then exec {__out}>&- {__err}>&-; fi',
  '    bash -c "$__launcher" devbox-launcher "$__fds" "$__command" 3>&-',
  '    __s=$?',
  '    echo "$__who $__s" >&3',
  '    exit "$__s"',
  '  ) &',
  '}',
  '__i=0',
  'while [ "$__i" -lt "$__n" ]; do',
  '  __start "sidecar $__i" $((4 + 2 * __i)) $((5 + 2 * __i)) "$1" "$2" "$3"',
  '  shift 3',
  '  __i=$((__i + 1))',
  'done',
  '__start app 1 2 "$__app"',
  '__app_pid=$!',
  '__f=4',
  'while [ "$__f" -le "$__last" ]; do exec {__f}>&-; __f=$((__f + 1)); done',
  'wait -n',
  '__s=$?',
  // The first to end (not a stop): the instance ends, and the container takes the others with it.
  'if [ -z "${__stopping:-}" ]; then exit "$__s"; fi',
  'wait "$__app_pid"',
  '__s=$?',
  'wait',
  'exit "$__s"',
].join('\n');

/** The first fd of sidecar `i`'s pipes (stdout; stderr is the next). */
export const sidecarFd = (i: number) => 4 + 2 * i;

/** How an instance with sidecars is started: the supervisor's arguments, the container's stdio, the app's environment. */
export interface SupervisedLaunch {
  argv: string[];
  stdio: ('ignore' | 'pipe')[];
  env: Record<string, string>;
}

/** MB as MEMORY_LIMIT writes it. */
const memoryLimit = (mb: number) => `${mb}m`;

/** VCAP_APPLICATION with another memory limit (what Cloud Controller gives a sidecar, or the app beside its sidecars). */
function withMemory(vcapApplication: string | undefined, mb: number): string {
  let vcap: Record<string, unknown> = {};
  try {
    vcap = JSON.parse(vcapApplication ?? '{}') as Record<string, unknown>;
  } catch {
    // the DEA wrote it: never reached
  }
  const limits = typeof vcap.limits === 'object' && vcap.limits !== null ? (vcap.limits as Record<string, unknown>) : {};
  return JSON.stringify({ ...vcap, limits: { ...limits, mem: mb } });
}

/**
 * The supervisor's launch for the instance's sidecars, each with its port (`ports[i]`). The app and
 * every sidecar see every sidecar's port as `SIDECAR_<NAME>_PORT` (a devbox addition: the instances
 * share the machine's network, where a fixed port would collide). As Cloud Controller gives them,
 * a sidecar's MEMORY_LIMIT (and VCAP_APPLICATION's limits.mem) is its own memory, else the
 * process's, and the app's is the process's less what its sidecars reserve.
 */
export function supervisedLaunch(start: StartMessage, sidecars: SidecarStart[], ports: number[], appEnv: Record<string, string>, fds: number | undefined, command: string): SupervisedLaunch {
  const processMb = start.limits?.mem ?? 256;
  const reserved = sidecars.reduce((sum, s) => sum + (s.memory_in_mb ?? 0), 0);
  const appMb = processMb - reserved > 0 ? processMb - reserved : processMb;
  const env: Record<string, string> = { ...appEnv };
  sidecars.forEach((s, i) => (env[sidecarPortVariable(s.name)] = String(ports[i])));
  env.MEMORY_LIMIT = memoryLimit(appMb);
  env.VCAP_APPLICATION = withMemory(appEnv.VCAP_APPLICATION, appMb);
  const perSidecar = sidecars.flatMap((s) => {
    const mb = s.memory_in_mb ?? processMb;
    return [s.command, memoryLimit(mb), withMemory(appEnv.VCAP_APPLICATION, mb)];
  });
  return {
    argv: ['bash', '-c', `__launcher=${shellQuote(LAUNCHER)}\n${SUPERVISOR}`, 'devbox-supervisor', fds && fds > 0 ? String(Math.floor(fds)) : '', command, String(sidecars.length), ...perSidecar],
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', ...sidecars.flatMap(() => ['pipe', 'pipe'] as const)],
    env,
  };
}

/** A word bash reads back as `text` (single quotes). */
const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** Who ended, as the supervisor reports it: the app, or the sidecar at an index. */
export interface Ended {
  who: 'app' | number;
  status: number;
}

/** The supervisor's report (fd 3): what ended, in order. */
export class SupervisorReport {
  readonly ended: Ended[] = [];
  private readonly closed: Promise<void>;

  constructor(stream: Readable) {
    this.closed = forEachLine(stream, (line) => {
      const m = /^(?:app|sidecar (\d+)) (\d+)$/.exec(line.trim());
      if (m) this.ended.push({ who: m[1] === undefined ? 'app' : Number(m[1]), status: Number(m[2]) });
    });
  }

  /** Resolves once the report is complete (every process of the container gone), or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** The first that ended. */
  get first(): Ended | undefined {
    return this.ended[0];
  }

  /** How the app ended, when it has. */
  get app(): Ended | undefined {
    return this.ended.find((e) => e.who === 'app');
  }
}
