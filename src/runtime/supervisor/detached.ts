// The supervisor of `devbox up -d`: a plain node entry (no CLI framework to load) spawned detached
// in its own process group. It reports progress over the IPC channel to the `up -d` that spawned
// it, keeps running when that process exits, and stops the box on SIGTERM (`devbox down`).
import { fileURLToPath } from 'node:url';
import { Supervisor, type SupervisorOptions } from './supervisor.js';

export const DETACHED_SUPERVISOR = fileURLToPath(import.meta.url);

/** The options travel in the environment: the URL may carry credentials, which argv would show. */
export function detachedSupervisorEnv(options: SupervisorOptions): Record<string, string> {
  const env: Record<string, string> = { DEVBOX_HOME: options.home };
  if (options.natsUrl) env.DEVBOX_NATS_URL = options.natsUrl;
  if (options.routerPort !== undefined) env.DEVBOX_ROUTER_PORT = String(options.routerPort);
  if (options.tlsPort !== undefined) env.DEVBOX_TLS_PORT = String(options.tlsPort);
  if (options.sshPort !== undefined) env.DEVBOX_SSH_PORT = String(options.sshPort);
  if (options.deas !== undefined) env.DEVBOX_DEAS = String(options.deas);
  if (options.controllerDb) env.DEVBOX_CONTROLLER_DB = options.controllerDb;
  if (options.mysqlUrl) env.DEVBOX_MYSQL_URL = options.mysqlUrl;
  return env;
}

async function main(): Promise<void> {
  const env = process.env;
  const supervisor = new Supervisor({
    home: env.DEVBOX_HOME!,
    natsUrl: env.DEVBOX_NATS_URL || undefined,
    routerPort: env.DEVBOX_ROUTER_PORT ? Number(env.DEVBOX_ROUTER_PORT) : undefined,
    tlsPort: env.DEVBOX_TLS_PORT ? Number(env.DEVBOX_TLS_PORT) : undefined,
    sshPort: env.DEVBOX_SSH_PORT ? Number(env.DEVBOX_SSH_PORT) : undefined,
    deas: env.DEVBOX_DEAS ? Number(env.DEVBOX_DEAS) : undefined,
    controllerDb: env.DEVBOX_CONTROLLER_DB || undefined,
    mysqlUrl: env.DEVBOX_MYSQL_URL || undefined,
  });
  supervisor.on('event', (event) => {
    if (process.connected) process.send?.(event);
  });
  process.on('disconnect', () => undefined); // `up -d` exits once we are ready: keep running
  const stop = async () => {
    await supervisor.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
  try {
    await supervisor.start();
  } catch {
    process.exit(1); // 'failed' was already reported over IPC and logged
  }
}

if (process.argv[1] === DETACHED_SUPERVISOR) await main();
