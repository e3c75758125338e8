// The ssh proxy's server: users log in with `cf:<process guid>/<index>` and a one-time code
// (password, or keyboard-interactive for OpenSSH's prompt); once the Authorizer has a login to the
// DEA's ssh server, the proxy connects there and relays the connection (relay.ts). A refusal of any
// kind is an authentication failure, as on Cloud Foundry; the reason goes to the log.
import net from 'node:net';
import ssh2, { type AuthContext, type Connection } from 'ssh2';
import type { Logger } from '../common/log.js';
import { LoginRefused, type Authorizer, type SshTarget } from './authorizer.js';
import { relay, type RelayStats } from './relay.js';
import { keyFingerprint } from '../common/ssh-keys.js';
import type { SshProxySettings } from './settings.js';

const METHODS: AuthContext['method'][] = ['password', 'keyboard-interactive'];
const MAX_ATTEMPTS = 3;

export interface ProxyStats extends RelayStats {
  logins: number;
  refused: number;
  active: number;
}

export class SshProxyServer {
  private readonly server: ssh2.Server;
  private readonly connections = new Set<Connection>();
  /** (ssh2's Server does not say whether it listens.) */
  private bound = false;
  readonly stats: ProxyStats = { logins: 0, refused: 0, active: 0, sessions: 0, forwards: 0 };

  constructor(
    private readonly settings: Pick<SshProxySettings, 'hostKeyPem' | 'loginTimeoutMs'>,
    private readonly authorizer: Authorizer,
    private readonly log: Logger,
  ) {
    this.server = new ssh2.Server({ hostKeys: [settings.hostKeyPem], ident: 'devbox-ssh-proxy' }, (user, info) => this.onConnection(user, info.ip));
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        this.server.on('error', (error: Error) => this.log.error('ssh server error', { error: error.message }));
        this.bound = true;
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  get listening(): boolean {
    return this.bound;
  }

  async close(): Promise<void> {
    this.bound = false;
    for (const user of this.connections) user.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(user: Connection, ip: string): void {
    this.connections.add(user);
    let backend: ssh2.Client | undefined;
    let pending = false;
    let attempts = 0;
    let closed = false;
    // A login that takes too long (or never comes) does not hold a connection.
    const loginTimer = setTimeout(() => user.end(), this.settings.loginTimeoutMs);
    user.on('error', (error: Error) => this.log.debug('ssh client connection error', { ip, error: error.message }));
    user.on('close', () => {
      closed = true;
      clearTimeout(loginTimer);
      this.connections.delete(user);
      backend?.end();
    });

    const attempt = (ctx: AuthContext, code: string) => {
      pending = true;
      void this.login(ctx, code, ip).then((connected) => {
        pending = false;
        if (!connected) return ctx.reject(METHODS);
        if (closed) return connected.end();
        // Before accepting: ssh2 emits 'ready' from within accept().
        backend = connected;
        ctx.accept();
      });
    };
    user.on('authentication', (ctx) => {
      if (backend || pending) return ctx.reject(METHODS);
      if (ctx.method !== 'password' && ctx.method !== 'keyboard-interactive') return ctx.reject(METHODS);
      // Each try spends a code; three per connection, as OpenSSH's default.
      if (++attempts > MAX_ATTEMPTS) return user.end();
      if (ctx.method === 'password') return attempt(ctx, ctx.password);
      ctx.prompt([{ prompt: 'One-time code (cf ssh-code): ', echo: false }], (answers) => attempt(ctx, answers[0] ?? ''));
    });

    user.on('ready', () => {
      clearTimeout(loginTimer);
      if (!backend) return user.end();
      const connected = backend;
      this.stats.active++;
      user.once('close', () => this.stats.active--);
      // The instance stopped or the DEA went away: the user's connection ends with it.
      connected.once('close', () => user.end());
      relay(user, connected, this.log, this.stats);
    });
  }

  /** Authorizes and connects to the DEA: the connection to relay to, or undefined when refused. */
  private async login(ctx: AuthContext, code: string, ip: string): Promise<ssh2.Client | undefined> {
    try {
      const target = await this.authorizer.authorize(ctx.username, code);
      const backend = await connectToInstance(target);
      this.stats.logins++;
      this.log.info('ssh login', { process_guid: target.processGuid, index: target.index, dea: target.instance.dea, ip });
      return backend;
    } catch (error) {
      this.stats.refused++;
      const reason = error instanceof LoginRefused ? error.message : `error: ${(error as Error).message}`;
      this.log.info('ssh login refused', { user: ctx.username.slice(0, 100), ip, reason });
      return undefined;
    }
  }
}

/** Connects to the DEA's ssh server with the one-time login, checking its host key. */
function connectToInstance({ instance }: SshTarget): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.once('ready', () => resolve(client));
    client.once('error', (error) => reject(new Error(`the DEA's ssh server: ${error.message}`)));
    client.connect({
      host: instance.host,
      port: instance.port,
      username: instance.instance,
      password: instance.password,
      readyTimeout: 10_000,
      hostVerifier: (key: Buffer) => keyFingerprint(key) === instance.host_key_fingerprint,
    });
  });
}
