import fs from 'node:fs';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { execa } from 'execa';
import { redactUrl } from '../runtime/common/log.js';
import { cfApiTlsUrl, cfApiUrl, ensureStateDirs, loadConfig, readPorts, statePaths, tlsFiles } from '../runtime/common/config.js';
import { AlreadyRunningError, runningSupervisor } from '../runtime/supervisor/lock.js';
import { DETACHED_SUPERVISOR, detachedSupervisorEnv } from '../runtime/supervisor/detached.js';
import { openLogFd, routed, Supervisor, type SupervisorEvent, type SupervisorOptions } from '../runtime/supervisor/supervisor.js';
import { ApiClient } from '../cli/api/client.js';
import { ApiCommand } from '../cli/api-command.js';
import { CliError } from '../cli/base-command.js';
import { waitForStartedApps } from '../cli/lifecycle.js';
import { showStartProgress, type EventSource } from '../cli/progress.js';
import { bold } from '../cli/output.js';
import { localEndpoints, Session } from '../cli/session.js';
import { findMysqlServer, MYSQL_MISSING_HELP } from '../runtime/mysql-node/mysqld.js';
import { findRedisServer, REDIS_MISSING_HELP } from '../runtime/redis-node/settings.js';

/**
 * The components' progress, drawn once the supervisor has its plan. A box that cannot start before
 * it (a port in use) shows no component lines: the reason is said once, by the error.
 */
function progressOnPlan(onEvent: EventSource): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    onEvent((event) => {
      if (settled || (event.type !== 'plan' && event.type !== 'failed')) return;
      settled = true;
      if (event.type === 'plan') showStartProgress(event.components, onEvent).then(resolve, reject);
      else resolve();
    });
  });
}

/** An ApiCommand for its progress steps (`ui()`); it asks the API with a session of its own (waitForApps). */
export default class Up extends ApiCommand {
  private mysqlUrl?: string;

  static override description = `Start devbox: the bus and every Cloud Foundry component, as child processes of one supervisor
Returns (-d) or says it is up once every component is healthy and the apps whose desired state is STARTED run again and are routed; one that does not (crashed, still starting at its startup timeout) is named with why, and up still succeeds.`;

  static override examples = [
    { description: 'Start in the foreground (Ctrl-C stops it)', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Start in the background, return once healthy and the started apps run again', command: '<%= config.bin %> <%= command.id %> -d' },
    { description: 'Use an existing NATS server as the bus', command: '<%= config.bin %> <%= command.id %> -d --nats-url nats://token@127.0.0.1:4222' },
    { description: 'Serve HTTPS on 443 (when this user may bind it) instead of 8443', command: '<%= config.bin %> <%= command.id %> -d --tls-port 443' },
  ];

  static override flags = {
    detach: Flags.boolean({ char: 'd', description: 'run in the background and return once every component is healthy and the started apps run' }),
    'nats-url': Flags.string({ description: 'use this NATS server (nats://[token@]host:port, comma-separated for a cluster) instead of starting the embedded bus', env: 'DEVBOX_NATS_URL' }),
    db: Flags.string({ description: "the controller's database: mysql://USER:PASS@HOST:PORT/DB (default: SQLite in the state directory)", env: 'DEVBOX_CONTROLLER_DB' }),
    'mysql-url': Flags.string({ description: 'run the MySQL service on this existing server (mysql://USER:PASS@HOST:PORT) instead of a private one', env: 'DEVBOX_MYSQL_URL' }),
    deas: Flags.integer({ description: 'how many DEAs to run (each stages and runs app instances)', default: 1, min: 1, max: 16 }),
    port: Flags.integer({ description: "the router's port (default: router_port in config.json, 8080)", min: 1, max: 65535 }),
    'tls-port': Flags.integer({
      description: "the router's HTTPS port, with certificates from the box's own CA (0: no HTTPS; default: router_tls_port in config.json, else 8443 when it is free)",
      min: 0,
      max: 65535,
      env: 'DEVBOX_TLS_PORT',
    }),
    'ssh-port': Flags.integer({
      description: "the ssh proxy's port, for cf ssh and devbox ssh (0: any free port; default: 2222 when it is free, else any free port)",
      min: 0,
      max: 65535,
      env: 'DEVBOX_SSH_PORT',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Up);
    // Crashes of apps recorded before this start are not about it (the box runs on this machine: one clock).
    const since = new Date();
    this.mysqlUrl = flags['mysql-url'];
    const options = { home: this.home, natsUrl: flags['nats-url'], routerPort: flags.port, tlsPort: flags['tls-port'], sshPort: flags['ssh-port'], deas: flags.deas, controllerDb: flags.db, mysqlUrl: flags['mysql-url'] };

    const running = runningSupervisor(statePaths(this.home).pidFile);
    if (running) throw new CliError(new AlreadyRunningError(running).message);
    this.log(`Starting devbox in ${this.home}...`);

    if (flags.detach) {
      const ready = await this.startDetached(options);
      await this.waitForApps(since, ready.routerPort);
      this.printSummary(ready, since);
      this.log(`devbox runs in the background (supervisor pid ${ready.pid}). Stop it with 'devbox down'.`);
      return;
    }

    const supervisor = new Supervisor(options);
    let ready: Extract<SupervisorEvent, { type: 'ready' }> | undefined;
    supervisor.on('event', (e) => e.type === 'ready' && (ready = e));
    const stop = async () => {
      this.log('\nStopping devbox...');
      await supervisor.stop();
      this.log('devbox stopped.');
      process.exit(0);
    };
    const progress = progressOnPlan((listener) => supervisor.on('event', listener));
    await Promise.all([supervisor.start(), progress]);
    // From here Ctrl-C stops the box in order, also while the apps are waited for.
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
    await this.waitForApps(since, ready!.routerPort);
    this.printSummary({ ...ready!, pid: process.pid }, since);
    this.log("Press Ctrl-C to stop devbox (or run 'devbox down').");
    await new Promise(() => undefined); // stay in the foreground until a signal
  }

  /**
   * Once the components are healthy: the apps whose desired state is STARTED, which the health
   * manager starts again, waited for until they run and the router routes them (lifecycle.ts,
   * waitForStartedApps), so that their routes answer once `up` returns. Those that do not run are
   * named with why; the box is up either way (exit 0).
   */
  private async waitForApps(since: Date, routerPort: number): Promise<void> {
    const ui = this.ui();
    // The box's own admin, in a session of its own: not the user's (cli.json may be another user's,
    // another API's, or logged out), which is left as it is.
    const sessionHome = path.join(statePaths(this.home).run, `up-session-${process.pid}`);
    try {
      const local = localEndpoints(this.home);
      const client = new ApiClient(await Session.login(sessionHome, { ...local, username: local.admin.username, password: local.admin.password }));
      await waitForStartedApps(client, since, ui, { routed: (hostname, urlPath) => routed(routerPort, hostname, urlPath) });
    } catch (error) {
      ui.steps.warn(`Could not see whether the apps run again: ${(error as Error).message}`);
    } finally {
      fs.rmSync(sessionHome, { recursive: true, force: true });
    }
  }

  /** Spawns the supervisor detached (its own process group), relays its progress over IPC, returns once it is ready. */
  private async startDetached(options: SupervisorOptions) {
    const paths = statePaths(options.home);
    ensureStateDirs(paths);
    const out = openLogFd(path.join(paths.logs, 'supervisor.out'));
    const env = detachedSupervisorEnv(options);
    const child = execa(process.execPath, [DETACHED_SUPERVISOR], { env, detached: true, ipc: true, stdin: 'ignore', stdout: out, stderr: out, reject: false, cleanup: false });
    fs.closeSync(out);
    const listeners: ((e: SupervisorEvent) => void)[] = [];
    const onEvent: EventSource = (listener) => listeners.push(listener);
    const ready = new Promise<Extract<SupervisorEvent, { type: 'ready' }>>((resolve, reject) => {
      child.on('message', (message: SupervisorEvent) => {
        for (const l of listeners) l(message);
        if (message.type === 'ready') resolve(message);
        if (message.type === 'failed') reject(new CliError(`devbox did not start: ${message.message}`));
      });
      void child.then((result) => reject(new CliError(`devbox did not start: the supervisor exited (${result.exitCode ?? result.signal}); see ${paths.logs}/supervisor.log`)));
    });
    ready.catch(() => undefined);
    await Promise.all([progressOnPlan(onEvent).catch(() => undefined), ready]);
    const event = await ready;
    child.disconnect();
    child.unref();
    return { ...event, pid: child.pid! };
  }

  private adminUser(): string {
    try {
      return loadConfig(statePaths(this.home)).uaa.admin.username;
    } catch {
      return 'admin';
    }
  }

  private printSummary(ready: { routerPort: number; natsUrl: string; pid: number; routerTlsPort?: number; tlsNote?: string }, since: Date) {
    this.log('');
    this.log(`${bold('devbox is up')} in ${((Date.now() - since.getTime()) / 1000).toFixed(2)} s`);
    const port = ready.routerPort === 80 ? '' : `:${ready.routerPort}`;
    this.log(`  api:     http://api.localhost${port}   (the CLI is logged in as admin, org devbox / space dev)`);
    this.log(`  apps:    http://<app>.localhost${port}`);
    this.log(`  bus:     ${redactUrl(ready.natsUrl)}`);
    this.log(`  state:   ${this.home}`);
    this.log(`  cf:      ${cfApiUrl(ready.routerPort)} (the real cf CLI, no /etc/hosts needed):`);
    this.log(`             cf api ${cfApiUrl(ready.routerPort)}`);
    // Never the password itself: it stays in config.json, which only the user can read (0600).
    this.log(`             cf login -u ${this.adminUser()} -p <password>   # uaa.admin.password in ${statePaths(this.home).config} (mode 0600)`);
    if (ready.routerTlsPort) {
      // The CA's certificate is public: trusting it is the user's choice (docs/router.md, "TLS").
      const ca = tlsFiles(statePaths(this.home)).caCert;
      const tlsPort = ready.routerTlsPort === 443 ? '' : `:${ready.routerTlsPort}`;
      this.log(`  https:   https://api.localhost${tlsPort}, https://<app>.localhost${tlsPort}, certificates from the box's CA:`);
      this.log(`             ${ca}   (trust it, or give it to clients: curl --cacert, SSL_CERT_FILE)`);
      this.log(`             cf api ${cfApiTlsUrl(ready.routerTlsPort)} --skip-ssl-validation   # or with SSL_CERT_FILE=${ca}, without the flag`);
    } else if (ready.tlsNote) this.log(`  https:   ${ready.tlsNote}`);
    const sshPort = readPorts(statePaths(this.home))?.ssh_port;
    if (sshPort) this.log(`  ssh:     ${this.config.bin} ssh APP, cf ssh APP   (the ssh proxy on 127.0.0.1:${sshPort})`);
    // The rest of devbox runs without MySQL; say once how to get the service.
    if (!this.mysqlUrl && !findMysqlServer()) this.log(`  mysql:   ${MYSQL_MISSING_HELP}`);
    if (!findRedisServer()) this.log(`  redis:   ${REDIS_MISSING_HELP}`);
    this.log('');
  }
}
