// One ssh session channel on the DEA's ssh server (docs/dea.md, "ssh"): `env` and `pty-req` before
// it starts, then `shell` (bash) or `exec` (bash -c COMMAND) through the launcher in the instance's
// container, with the app's environment; `window-change` resizes its terminal, `signal` goes to its
// command, and its exit status (or signal) goes back before the channel closes. Subsystems (sftp),
// X11 and agent forwarding are refused (ssh2 refuses requests nobody listens for).
import type { ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Writable } from 'node:stream';
import type { IPty } from 'node-pty';
import type { ServerChannel, Session } from 'ssh2';
import type { Logger } from '../../common/log.js';
import type { PtyOptions } from '../containers/container.js';
import { launcherArgs } from '../instances/launcher.js';
import type { SessionTarget } from '../instances/instance.js';

/** The signals ssh names (RFC 4254 6.10): others are said as an exit status, 128 + the number. */
const SSH_SIGNALS = new Set(['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2']);

/** After the instance ended, how long a session's process has to say how it ended before the channel closes anyway. */
const END_GRACE_MS = 2_000;
/** After a client hung up (SIGHUP), how long its session's processes have before SIGKILL. */
const HANGUP_GRACE_MS = 1_000;

/** How a session's process ended: an exit status, or the signal that killed it. */
type Ended = { code: number } | { signal: string };

/** `SIGINT`, `INT` or `int` → `SIGINT`, when Node knows it. */
function signalNamed(name: string): NodeJS.Signals | undefined {
  const full = `SIG${name.toUpperCase().replace(/^SIG/, '')}`;
  return full in os.constants.signals ? (full as NodeJS.Signals) : undefined;
}

const nameOf = (signal: number) => (Object.entries(os.constants.signals) as [string, number][]).find(([, n]) => n === signal)?.[0];

/** Resolves once what was written to `stream` before has gone out (or the stream is gone). */
function flushed(stream: Writable): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  return new Promise((resolve) => stream.write(Buffer.alloc(0), () => resolve()));
}

export class SshSession {
  private readonly env: Record<string, string> = {};
  private pty?: PtyOptions;
  private channel?: ServerChannel;
  private terminal?: IPty;
  private child?: ChildProcess;
  private target?: SessionTarget;
  /** The host pid of what was started (nsenter in a container). */
  private pid?: number;
  private ended = false;
  private closed = false;
  private hangupTimer?: NodeJS.Timeout;
  private endTimer?: NodeJS.Timeout;
  /** Resolves once the channel has closed (or, never started, once the session ended). */
  readonly closedDown: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    session: Session,
    /** Where the session runs; undefined once the instance is not RUNNING. */
    private readonly targetOf: () => SessionTarget | undefined,
    private readonly log: Logger,
  ) {
    this.closedDown = new Promise((resolve) => (this.resolveClosed = resolve));
    session.on('env', (accept, _reject, info) => {
      this.env[info.key] = info.val;
      accept?.();
    });
    session.on('pty', (accept, reject, info) => {
      if (this.channel) return reject?.();
      this.pty = { term: info.term || 'xterm', cols: info.cols || 80, rows: info.rows || 24 };
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      if (this.pty && info.cols > 0 && info.rows > 0) this.pty = { ...this.pty, cols: info.cols, rows: info.rows };
      if (this.pty && !this.ended) this.terminal?.resize(this.pty.cols, this.pty.rows);
      accept?.();
    });
    session.on('signal', (accept, reject, info) => {
      const sig = signalNamed(info.name);
      const main = this.pid && !this.ended ? this.target?.container.mainProcess(this.pid) : undefined;
      if (!sig || !main) return reject?.();
      try {
        process.kill(main, sig);
      } catch {
        return reject?.();
      }
      accept?.();
    });
    session.on('shell', (accept, reject) => this.start(undefined, accept, reject));
    session.on('exec', (accept, reject, info) => this.start(info.command, accept, reject));
    // The session's own close (the client's CLOSE), or its channel's (the connection went away).
    session.on('close', () => this.closedByClient());
  }

  private closedByClient(): void {
    if (this.closed) return;
    this.closed = true;
    this.resolveClosed();
    this.hangUp();
  }

  private start(command: string | undefined, accept: () => ServerChannel, reject: (() => void) | undefined): void {
    const target = this.targetOf();
    if (this.channel || this.closed || !target) return reject?.();
    // The launcher as for the app (profile scripts, fds limit): `bash -c bash` for a shell.
    const argv = ['bash', ...launcherArgs(target.fds, command ?? 'bash')];
    const env = { ...target.env, ...this.env, ...(this.pty ? { TERM: this.pty.term } : {}) };
    const options = { cwd: target.cwd, env };
    try {
      if (this.pty) this.terminal = target.container.execPty(argv, { ...options, ...this.pty });
      else this.child = target.container.exec(argv, options);
    } catch (error) {
      this.log.warn('could not start an ssh session', { error: (error as Error).message });
      return reject?.();
    }
    this.target = target;
    this.pid = this.terminal?.pid ?? this.child?.pid;
    const channel = accept();
    this.channel = channel;
    channel.once('close', () => this.closedByClient());
    if (this.terminal) this.attachTerminal(this.terminal, channel);
    else if (this.child) this.attachPipes(this.child, channel);
  }

  private attachTerminal(terminal: IPty, channel: ServerChannel): void {
    // encoding null: the data is Buffers (node-pty's types say string).
    terminal.onData((data: string | Buffer) => {
      if (this.closed) return;
      if (!channel.write(data)) {
        terminal.pause();
        channel.once('drain', () => terminal.resume());
      }
    });
    channel.on('data', (data: Buffer) => terminal.write(data));
    terminal.onExit(({ exitCode, signal }) => {
      const name = signal ? nameOf(signal) : undefined;
      void this.finish(name ? { signal: name } : { code: exitCode });
    });
  }

  private attachPipes(child: ChildProcess, channel: ServerChannel): void {
    // A command that stops reading its input must not take the DEA down (EPIPE).
    child.stdin!.on('error', () => undefined);
    channel.pipe(child.stdin!);
    child.stdout!.pipe(channel, { end: false });
    child.stderr!.pipe(channel.stderr, { end: false });
    child.once('error', (error) => {
      this.log.warn('ssh session process failed', { error: error.message });
      void this.finish({ code: 255 });
    });
    // After its output has all been read: 'close', not 'exit'.
    child.once('close', (code, signal) => void this.finish(signal ? { signal } : { code: code ?? 255 }));
  }

  /** The process ended: its output out, then its exit status or signal, then the channel closes. */
  private async finish(ended: Ended): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.hangupTimer);
    clearTimeout(this.endTimer);
    const channel = this.channel;
    if (!channel || this.closed) return;
    await Promise.all([flushed(channel), flushed(channel.stderr)]);
    if (this.closed) return;
    if ('code' in ended) channel.exit(ended.code);
    else {
      const name = ended.signal.replace(/^SIG/, '');
      if (SSH_SIGNALS.has(name)) channel.exit(name, false, '');
      else channel.exit(128 + (os.constants.signals[ended.signal as NodeJS.Signals] ?? 0));
    }
    channel.end();
  }

  /** The client went away (channel or connection closed): SIGHUP, as a terminal's hang-up, then SIGKILL. */
  private hangUp(): void {
    if (!this.pid || this.ended || this.hangupTimer) return;
    const { pid, target } = this;
    target?.container.signalExec(pid, 'SIGHUP');
    this.hangupTimer = setTimeout(() => target?.container.signalExec(pid, 'SIGKILL', { nsenter: true }), HANGUP_GRACE_MS);
    this.hangupTimer.unref();
  }

  /**
   * The instance ended: its processes went with the container (killed here again, for the sessions
   * of a machine without containers); the channel says how they ended, or that they were killed.
   */
  end(): void {
    if (this.pid && !this.ended) this.target?.container.signalExec(this.pid, 'SIGKILL', { nsenter: true });
    if (this.ended || this.endTimer) return;
    if (!this.channel) {
      this.ended = true;
      this.resolveClosed();
      return;
    }
    this.endTimer = setTimeout(() => void this.finish({ signal: 'SIGKILL' }), END_GRACE_MS);
    this.endTimer.unref();
  }
}
