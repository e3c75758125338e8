// Relays an authenticated user's ssh connection to the DEA's ssh server, channel by channel, as
// Diego's ssh-proxy does: each session the user opens becomes a session on the DEA with the same
// pty, environment and command; data, stderr, window changes and signals go through, and the exit
// status comes back. Port forwards (direct-tcpip) become port forwards from the DEA.
import type { Client, ClientChannel, Connection, PseudoTtyInfo, ServerChannel } from 'ssh2';
import type { Logger } from '../common/log.js';

export interface RelayStats {
  sessions: number;
  forwards: number;
}

export function relay(user: Connection, backend: Client, log: Logger, stats: RelayStats): void {
  user.on('session', (acceptSession) => {
    const session = acceptSession();
    let pty: PseudoTtyInfo | undefined;
    const env: Record<string, string> = {};
    let remote: ClientChannel | undefined;

    session.on('pty', (accept, _reject, info) => {
      pty = info;
      accept?.();
    });
    session.on('env', (accept, _reject, info) => {
      env[info.key] = info.val;
      accept?.();
    });
    session.on('window-change', (accept, _reject, info) => {
      if (pty) pty = { ...pty, ...info };
      remote?.setWindow(info.rows, info.cols, info.height, info.width);
      accept?.();
    });
    session.on('signal', (accept, _reject, info) => {
      remote?.signal(info.name);
      accept?.();
    });

    const start = (command: string | undefined, accept: () => ServerChannel | undefined, reject: () => void) => {
      if (remote) return reject();
      // Accepted at once, before the DEA's channel exists: a client may send EOF right after its
      // request (OpenSSH with stdin at its end does), and ssh2 refuses to accept after that. What
      // the user sends meanwhile waits in the channel's buffer.
      const local = accept();
      if (!local) return;
      const window = pty ? { rows: pty.rows, cols: pty.cols, height: pty.height, width: pty.width, term: pty.term, modes: pty.modes } : undefined;
      const opened = (error: Error | undefined, channel: ClientChannel) => {
        if (error) {
          log.warn('the DEA refused a session', { error: error.message });
          local.stderr.write(`devbox: the instance refused the session (${error.message})\r\n`);
          local.exit(1);
          local.end();
          return;
        }
        remote = channel;
        stats.sessions++;
        join(local, channel);
      };
      if (command === undefined) {
        if (window) backend.shell(window, { env }, opened);
        else backend.shell(false, { env }, opened);
      } else backend.exec(command, { env, ...(window ? { pty: window } : {}) }, opened);
    };
    session.on('shell', (accept, reject) => start(undefined, accept, reject));
    session.on('exec', (accept, reject, info) => start(info.command, accept, reject));
    // Not relayed: sftp and other subsystems, X11, agent forwarding (reject is the default).
  });

  user.on('tcpip', (accept, reject, info) => {
    backend.forwardOut(info.srcIP, info.srcPort, info.destIP, info.destPort, (error, channel) => {
      if (error) {
        log.info('the DEA refused a port forward', { port: info.destPort, error: error.message });
        return reject();
      }
      stats.forwards++;
      const local = accept();
      local.pipe(channel).pipe(local);
      const close = () => {
        local.close();
        channel.close();
      };
      local.on('close', close);
      channel.on('close', close);
    });
  });
  // Global requests (cf's keepalive@cloudfoundry.org, remote forwards) get ssh2's failure reply:
  // cf only checks that the connection is alive.
}

/** Joins the user's channel and the DEA's: both directions, stderr, the exit status, and the ends. */
function join(local: ServerChannel, remote: ClientChannel): void {
  // Piped for back-pressure; the user's channel is ended only once the exit status has gone out.
  remote.pipe(local, { end: false });
  remote.stderr.pipe(local.stderr, { end: false });
  local.pipe(remote);
  remote.on('exit', (code: number | null, signal?: string, dump?: boolean | string, description?: string) => {
    if (code !== null && code !== undefined) local.exit(code);
    else if (signal) local.exit(signal, !!dump, description ?? '');
  });
  remote.on('close', () => {
    local.end();
    local.close();
  });
  local.on('close', () => remote.close());
}
