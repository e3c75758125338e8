// The DEA's ssh server (docs/dea.md, "ssh"; docs/ssh.md): one per DEA process, on its listen address
// and a port from the OS, with a host key made at start (the ssh proxy checks it by the fingerprint
// in the `dea.ssh.open` reply). A login is the instance guid as the user and a one-time password
// from `dea.ssh.open` (random, valid once, for 30 s, for that instance only); nothing else gets in.
// Once in, sessions run in the instance's container (session.ts) and port forwards (direct-tcpip)
// connect from the DEA, which shares its network with the instances. Everything a connection holds
// ends with the instance.
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import ssh2, { type AuthContext, type Connection, type ServerChannel, type TcpipRequestInfo } from 'ssh2';
import type { Logger } from '../../common/log.js';
import { keyFingerprint } from '../../common/ssh-keys.js';
import type { Attachment, Instance } from '../instances/instance.js';
import { SshSession } from './session.js';

/** How long a one-time password from `dea.ssh.open` stays valid. */
export const ONE_TIME_PASSWORD_TTL_MS = 30_000;
/** A connection that has not logged in by then is closed. */
const LOGIN_TIMEOUT_MS = 20_000;
/** Wrong logins a connection may try (OpenSSH's MaxAuthTries is 6; the proxy tries once). */
const MAX_ATTEMPTS = 3;
/** How long a port forward's connection may take. */
const CONNECT_TIMEOUT_MS = 10_000;
/** After the instance ended, how long its sessions have to say so before the connection closes. */
const CLOSE_GRACE_MS = 3_000;

export interface InstanceSshServerOptions {
  log: Logger;
  /** The instance a login names (by guid), if this DEA has it. */
  instance(guid: string): Instance | undefined;
}

export class InstanceSshServer {
  readonly fingerprint: string;
  private readonly server: ssh2.Server;
  /** Unused one-time passwords by instance guid. */
  private readonly passwords = new Map<string, { password: Buffer; expires: number }[]>();
  private readonly connections = new Set<Connection>();
  private readonly log: Logger;
  /** (ssh2's Server does not say whether it listens.) */
  private bound = false;
  readonly stats = { logins: 0, refused: 0, sessions: 0, forwards: 0 };

  constructor(private readonly options: InstanceSshServerOptions) {
    this.log = options.log;
    // ECDSA P-256 from Node's crypto, as the proxy's: ssh2's own ed25519 generator at times made a
    // public key its parser then refused ("Malformed OpenSSH public key"), failing the DEA's start.
    const hostKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString();
    const parsed = ssh2.utils.parseKey(hostKey);
    if (parsed instanceof Error) throw parsed;
    this.fingerprint = keyFingerprint(parsed.getPublicSSH());
    this.server = new ssh2.Server({ hostKeys: [hostKey], ident: 'devbox-dea' }, (client, info) => this.onConnection(client, info.ip));
  }

  /** Listens on `host` and a port from the OS; resolves with the port. */
  listen(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host, () => {
        this.server.off('error', reject);
        this.server.on('error', (error: Error) => this.log.error('ssh server error', { error: error.message }));
        this.bound = true;
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo | null)?.port ?? 0;
  }

  /** Stops listening and ends every connection (a peer that does not close its side is not waited for long). */
  async close(): Promise<void> {
    for (const client of this.connections) client.end();
    if (!this.bound) return;
    this.bound = false;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise<void>((resolve) => this.server.close(() => resolve())), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
  }

  /** A new one-time password for `instance`: valid once, for 30 s. */
  oneTimePassword(instance: string): string {
    this.forgetExpired();
    const password = randomBytes(24).toString('base64url');
    const list = this.passwords.get(instance) ?? [];
    list.push({ password: Buffer.from(password), expires: Date.now() + ONE_TIME_PASSWORD_TTL_MS });
    this.passwords.set(instance, list);
    return password;
  }

  /** Uses up `password` for `instance`: true when it was one of its live one-time passwords. */
  private redeem(instance: string, password: string): boolean {
    this.forgetExpired();
    const list = this.passwords.get(instance);
    const given = Buffer.from(password);
    const index = list?.findIndex((p) => p.password.length === given.length && timingSafeEqual(p.password, given)) ?? -1;
    if (!list || index < 0) return false;
    list.splice(index, 1);
    if (list.length === 0) this.passwords.delete(instance);
    return true;
  }

  private forgetExpired(): void {
    const now = Date.now();
    for (const [instance, list] of this.passwords) {
      const live = list.filter((p) => p.expires > now);
      if (live.length > 0) this.passwords.set(instance, live);
      else this.passwords.delete(instance);
    }
  }

  private onConnection(client: Connection, ip: string): void {
    this.connections.add(client);
    let instance: Instance | undefined;
    let attempts = 0;
    const loginTimer = setTimeout(() => client.end(), LOGIN_TIMEOUT_MS);
    client.on('error', (error: Error) => this.log.debug('ssh connection error', { ip, error: error.message }));
    client.on('close', () => {
      clearTimeout(loginTimer);
      this.connections.delete(client);
    });
    client.on('authentication', (ctx: AuthContext) => {
      // Only the one-time password: a `none` probe or a key is told so, and costs no attempt.
      if (ctx.method !== 'password') return ctx.reject(['password']);
      const candidate = this.options.instance(ctx.username);
      if (this.redeem(ctx.username, ctx.password) && candidate?.sessionTarget()) {
        instance = candidate;
        this.stats.logins++;
        this.log.info('ssh login', { instance: candidate.guid, app_guid: candidate.appGuid, index: candidate.index, ip });
        return ctx.accept();
      }
      this.stats.refused++;
      this.log.info('ssh login refused', { user: ctx.username.slice(0, 100), ip });
      if (++attempts >= MAX_ATTEMPTS) return client.end();
      ctx.reject(['password']);
    });
    client.on('ready', () => {
      clearTimeout(loginTimer);
      if (instance) this.serve(client, instance);
      else client.end();
    });
  }

  /** A logged-in connection to `instance`: its sessions and port forwards, until it or the instance ends. */
  private serve(client: Connection, instance: Instance): void {
    const sessions = new Set<SshSession>();
    const forwards = new Set<net.Socket>();
    const log = this.log.child({ instance: instance.guid });
    let ending = false;
    const attachment: Attachment = {
      end: () => {
        if (ending) return;
        ending = true;
        for (const session of sessions) session.end();
        for (const socket of forwards) socket.destroy();
        // The sessions say how their processes ended, then the connection closes (the proxy's user's with it).
        const timer = setTimeout(() => client.end(), CLOSE_GRACE_MS);
        void Promise.all([...sessions].map((s) => s.closedDown)).then(() => {
          clearTimeout(timer);
          client.end();
        });
      },
    };
    const detach = instance.attach(attachment);
    client.on('close', () => {
      detach();
      for (const socket of forwards) socket.destroy();
    });

    client.on('session', (accept) => {
      if (ending) return;
      this.stats.sessions++;
      const session = new SshSession(accept(), () => instance.sessionTarget(), log);
      sessions.add(session);
      void session.closedDown.then(() => sessions.delete(session));
    });
    client.on('tcpip', (accept, reject, info: TcpipRequestInfo) => {
      if (ending) return reject();
      this.stats.forwards++;
      this.forward(accept, reject, info, forwards, log);
    });
  }

  /** direct-tcpip (`ssh -L`): a connection from the DEA to the requested address, piped both ways. */
  private forward(accept: () => ServerChannel, reject: () => void, info: TcpipRequestInfo, forwards: Set<net.Socket>, log: Logger): void {
    const socket = net.connect({ host: info.destIP, port: info.destPort });
    forwards.add(socket);
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error('timed out connecting')));
    let channel: ServerChannel | undefined;
    socket.once('connect', () => {
      socket.setTimeout(0);
      channel = accept();
      channel.on('error', () => socket.destroy());
      channel.on('close', () => socket.destroy());
      socket.pipe(channel).pipe(socket);
    });
    socket.on('error', (error) => {
      if (!channel) log.info('port forward refused', { host: info.destIP, port: info.destPort, error: error.message });
    });
    socket.once('close', () => {
      forwards.delete(socket);
      if (channel) channel.end();
      else reject();
    });
  }
}
