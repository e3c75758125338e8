import fs from 'node:fs';
import path from 'node:path';
import { Flags } from '@oclif/core';
import { execa } from 'execa';
import { redactUrl } from '../runtime/common/log.js';
import { cfApiTlsUrl, cfApiUrl, ensureStateDirs, loadConfig, readPorts, statePaths, tlsFiles } from '../runtime/common/config.js';
import { boxPlan } from '../runtime/supervisor/plan.js';
import { AlreadyRunningError, runningSupervisor } from '../runtime/supervisor/lock.js';
import { DETACHED_SUPERVISOR, detachedSupervisorEnv } from '../runtime/supervisor/detached.js';
import { openLogFd, Supervisor, type SupervisorEvent, type SupervisorOptions } from '../runtime/supervisor/supervisor.js';
import { CliError, DevboxCommand } from '../cli/base-command.js';
import { showStartProgress, type EventSource } from '../cli/progress.js';
import { bold } from '../cli/output.js';
import { componentKey } from '../runtime/common/component.js';
import { findMysqlServer, MYSQL_MISSING_HELP } from '../runtime/mysql-node/mysqld.js';

export default class Up extends DevboxCommand {
  private mysqlUrl?: string;

  static override description = 'Start devbox: the bus and every Cloud Foundry component, as child processes of one supervisor';

  static override examples = [
    { description: 'Start in the foreground (Ctrl-C stops it)', command: '<%= config.bin %> <%= command.id %>' },
    { description: 'Start in the background, return once healthy', command: '<%= config.bin %> <%= command.id %> -d' },
    { description: 'Use an existing NATS server as the bus', command: '<%= config.bin %> <%= command.id %> -d --nats-url nats://token@127.0.0.1:4222' },
    { description: 'Serve HTTPS on 443 (when this user may bind it) instead of 8443', command: '<%= config.bin %> <%= command.id %> -d --tls-port 443' },
  ];

  static override flags = {
    detach: Flags.boolean({ char: 'd', description: 'run in the background and return once every component is healthy' }),
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
    this.mysqlUrl = flags['mysql-url'];
    const options = { home: this.home, natsUrl: flags['nats-url'], routerPort: flags.port, tlsPort: flags['tls-port'], sshPort: flags['ssh-port'], deas: flags.deas, controllerDb: flags.db, mysqlUrl: flags['mysql-url'] };
    const components = boxPlan({ externalBus: !!options.natsUrl, deas: options.deas }).map((s) => componentKey(s.name, s.index));

    const running = runningSupervisor(statePaths(this.home).pidFile);
    if (running) throw new CliError(new AlreadyRunningError(running).message);
    this.log(`Starting devbox in ${this.home}...`);

    if (flags.detach) {
      const ready = await this.startDetached(options, components);
      this.printSummary(ready);
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
    const progress = showStartProgress(components, (listener) => supervisor.on('event', listener));
    await Promise.all([supervisor.start(), progress]);
    this.printSummary({ ...ready!, pid: process.pid });
    this.log("Press Ctrl-C to stop devbox (or run 'devbox down').");
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
    await new Promise(() => undefined); // stay in the foreground until a signal
  }

  /** Spawns the supervisor detached (its own process group), relays its progress over IPC, returns once it is ready. */
  private async startDetached(options: SupervisorOptions, components: string[]) {
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
    await Promise.all([showStartProgress(components, onEvent).catch(() => undefined), ready]);
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

  private printSummary(ready: { ms: number; routerPort: number; natsUrl: string; pid: number; routerTlsPort?: number; tlsNote?: string }) {
    this.log('');
    this.log(`${bold('devbox is up')} in ${(ready.ms / 1000).toFixed(2)} s`);
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
    this.log('');
  }
}
