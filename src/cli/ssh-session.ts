// The client side of `devbox ssh` (docs/ssh.md): what cf's ssh does, with ssh2. It connects to the
// ssh proxy as `cf:<process guid>/<index>` with a one-time code, checks the proxy's host key
// against the fingerprint `GET /` gave, then forwards local ports (-L), waits (-N), or runs a shell
// or a command with the terminal in raw mode when a pty was asked for. The remote exit status is
// the result.
import net from 'node:net';
import ssh2 from 'ssh2';
import { isLoopbackName } from '../runtime/common/http.js';
import { keyFingerprint } from '../runtime/common/ssh-keys.js';
import { CliError } from './base-command.js';

/** `[BIND_ADDRESS:]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT`, as cf and OpenSSH read -L. */
export interface LocalForward {
  bindAddress: string;
  localPort: number;
  remoteHost: string;
  remotePort: number;
}

export const NOT_AUTHORIZED = 'Error opening SSH connection: You are not authorized to perform the requested action.';

export function parseLocalForward(spec: string): LocalForward {
  const parts = spec.split(':');
  const port = (text: string) => {
    const n = Number(text);
    if (!/^\d{1,5}$/.test(text) || n < 1 || n > 65535) throw new CliError(`Bad local forwarding specification '${spec}': '${text}' is not a port. Use [BIND_ADDRESS:]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT, e.g. -L 9000:localhost:5432`);
    return n;
  };
  if (parts.length === 3) return { bindAddress: 'localhost', localPort: port(parts[0]), remoteHost: parts[1], remotePort: port(parts[2]) };
  if (parts.length === 4) return { bindAddress: parts[0] || 'localhost', localPort: port(parts[1]), remoteHost: parts[2], remotePort: port(parts[3]) };
  throw new CliError(`Bad local forwarding specification '${spec}'. Use [BIND_ADDRESS:]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT, e.g. -L 9000:localhost:5432`);
}

export type TtyRequest = 'auto' | 'no' | 'yes' | 'force';

export interface SshOptions {
  /** `host:port` of the ssh proxy (`links.app_ssh.href`). */
  endpoint: string;
  hostKeyFingerprint: string;
  skipHostValidation: boolean;
  username: string;
  code: string;
  command?: string;
  tty: TtyRequest;
  forwards: LocalForward[];
  /** -N: no shell or command, only the forwards. */
  skipRemoteExecution: boolean;
  /** Called when the connection is refused at login: a better reason than "not authorized", when known. */
  whyRefused?: () => Promise<string | undefined>;
}

/** cf's rule: a pty with a terminal on stdin, for a shell (auto) or when asked; always when forced. */
export function wantsPty(tty: TtyRequest, hasCommand: boolean, stdinIsTerminal: boolean): boolean {
  if (tty === 'force') return true;
  if (tty === 'no') return false;
  if (tty === 'yes') return stdinIsTerminal;
  return !hasCommand && stdinIsTerminal;
}

/** Runs the session; resolves with the exit status to exit with. */
export async function runSsh(options: SshOptions): Promise<number> {
  const client = await connect(options);
  try {
    const listeners = await Promise.all(options.forwards.map((f) => forward(client, f)));
    try {
      if (options.skipRemoteExecution) return await untilClosed(client);
      return await session(client, options);
    } finally {
      for (const listener of listeners) listener.close();
    }
  } finally {
    client.end();
  }
}

function connect(options: SshOptions): Promise<ssh2.Client> {
  const { host, port } = splitEndpoint(options.endpoint);
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKeyMismatch: string | undefined;
    client.once('ready', () => resolve(client));
    client.once('error', (error: Error & { level?: string }) => {
      if (hostKeyMismatch) return reject(new CliError(`Host key verification failed.\n\nThe fingerprint of the received key was "${hostKeyMismatch}".`));
      if (error.level === 'client-authentication') {
        void (options.whyRefused?.() ?? Promise.resolve(undefined)).then(
          (why) => reject(new CliError(why ? `${NOT_AUTHORIZED}\n${why}` : NOT_AUTHORIZED)),
          () => reject(new CliError(NOT_AUTHORIZED)),
        );
        return;
      }
      reject(new CliError(`Error opening SSH connection: ${error.message} (the ssh proxy at ${options.endpoint}; see 'devbox status')`));
    });
    client.connect({
      host: isLoopbackName(host) ? '127.0.0.1' : host,
      port,
      username: options.username,
      password: options.code,
      readyTimeout: 20_000,
      keepaliveInterval: 30_000,
      hostVerifier: (key: Buffer) => {
        if (options.skipHostValidation) return true;
        const received = keyFingerprint(key);
        if (received === options.hostKeyFingerprint) return true;
        hostKeyMismatch = received;
        return false;
      },
    });
  });
}

function splitEndpoint(endpoint: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(endpoint);
  if (!match) throw new CliError(`The API gave an ssh endpoint devbox cannot read: '${endpoint}'`);
  return { host: match[1], port: Number(match[2]) };
}

/** Listens on the local port; each connection is forwarded through the proxy to the instance. */
function forward(client: ssh2.Client, spec: LocalForward): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      client.forwardOut(socket.remoteAddress ?? '127.0.0.1', socket.remotePort ?? 0, spec.remoteHost, spec.remotePort, (error, channel) => {
        if (error) {
          process.stderr.write(`connect to ${spec.remoteHost}:${spec.remotePort} failed: ${error.message}\n`);
          return socket.destroy();
        }
        socket.pipe(channel).pipe(socket);
        socket.on('error', () => channel.close());
        channel.on('close', () => socket.destroy());
      });
    });
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new CliError(`Cannot listen on ${spec.bindAddress}:${spec.localPort} for -L: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}`)),
    );
    server.listen(spec.localPort, spec.bindAddress, () => resolve(server));
  });
}

/** -N: until the connection ends or the user interrupts (Ctrl-C ends -N with 0, as cf). */
function untilClosed(client: ssh2.Client): Promise<number> {
  return new Promise((resolve) => {
    const stop = () => resolve(0);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    client.once('close', () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(0);
    });
  });
}

/** A shell or a command, wired to this terminal; resolves with its exit status. */
function session(client: ssh2.Client, options: SshOptions): Promise<number> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const pty = wantsPty(options.tty, options.command !== undefined, stdin.isTTY === true);
  const window = pty ? { rows: stdout.rows || 24, cols: stdout.columns || 80, height: 0, width: 0, term: process.env.TERM || 'xterm' } : undefined;
  return new Promise((resolve, reject) => {
    const started = (error: Error | undefined, channel: ssh2.ClientChannel) => {
      if (error) return reject(new CliError(`SSH session allocation failed: ${error.message}`));
      let status = 0;
      const raw = pty && stdin.isTTY === true;
      if (raw) stdin.setRawMode(true);
      const resize = () => channel.setWindow(stdout.rows || 24, stdout.columns || 80, 0, 0);
      if (pty) stdout.on('resize', resize);
      stdin.pipe(channel);
      channel.pipe(stdout, { end: false });
      channel.stderr.pipe(process.stderr, { end: false });
      channel.on('exit', (code: number | null, signal?: string) => {
        // A signal ends the command as a shell reports it: 128 + its number.
        status = code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0);
      });
      channel.once('close', () => {
        stdin.unpipe(channel);
        if (raw) stdin.setRawMode(false);
        stdin.pause();
        stdout.off('resize', resize);
        resolve(status);
      });
    };
    if (options.command !== undefined) client.exec(options.command, window ? { pty: window } : {}, started);
    else if (window) client.shell(window, started);
    else client.shell(false, started);
  });
}

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ABRT: 6, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15 };

