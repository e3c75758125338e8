// `devbox component <name>`: runs one component in the foreground. It is how the supervisor starts
// every component, and how a user runs one alone on another machine. bin/run.js sends this command
// here before oclif loads: every component start saves oclif's start-up time, which adds up when a
// whole box starts at once on two cores.
import { parseArgs } from 'node:util';
import { runComponent } from './common/component.js';
import { ensureConfig, ensureStateDirs, resolveHome, statePaths, writeSecretJson } from './common/config.js';
import { componentNames, loadComponent } from './components.js';

export const COMPONENT_USAGE = `Run one devbox component in the foreground.

USAGE
  $ devbox component NAME [--index N] [--nats-url URL] [--status-port PORT] [--port PORT] [FLAGS]
  $ devbox component --init [--domain DOMAIN] [--router-port PORT]

ARGUMENTS
  NAME  one of: ${componentNames().join(', ')}

FLAGS
  --index N           the instance index of this component (several DEAs, routers...); default 0
  --nats-url URL      the bus: nats://[token@]host:port, comma-separated for a cluster
                      (env DEVBOX_NATS_URL; default: the bus of the box in DEVBOX_HOME)
  --status-port PORT  port of its /healthz and /varz server (0: any free port)
  --port PORT         its service port, where it has one (the bus's client port, the router's)
  --host ADDR         address its servers listen on (env DEVBOX_HOST; default 127.0.0.1; 0.0.0.0: all)
  --advertise ADDR    address other machines reach it at: registered with the routers, announced on
                      the bus (env DEVBOX_ADVERTISE; default --host, or this machine's IP for 0.0.0.0)
  --db URL            controller: its database, mysql://USER:PASS@HOST:PORT/DB (env DEVBOX_CONTROLLER_DB);
                      controllers on one MySQL database share the state and the app bits
  --dea-id ID         dea: its id on the bus (env DEVBOX_DEA_ID; default dea-<index>)
  --memory MB         dea: memory it offers to instances (env DEVBOX_DEA_MEMORY_MB; default 80% of RAM)
  --dir DIR           dea: its staging and instance directory (env DEVBOX_DEA_DIR; default
                      $DEVBOX_HOME/dea/<id>)
  --node-id ID        mysql-node, redis-node: its id on the bus (env DEVBOX_MYSQL_NODE_ID or
                      DEVBOX_REDIS_NODE_ID; default mysql-node-<index>, redis-node-<index>)
  --plan NAMES        mysql-node: the plans it offers, comma-separated (env DEVBOX_MYSQL_PLANS; default all)
  --capacity N        mysql-node, redis-node: instances it may hold (env DEVBOX_MYSQL_CAPACITY,
                      default 50, or DEVBOX_REDIS_CAPACITY, default 20)
  --mysql-url URL     mysql-node: an existing server, mysql://USER:PASS@HOST:PORT (env DEVBOX_MYSQL_URL)
  --init              write config.json (the secrets every machine shares) into DEVBOX_HOME and exit;
                      with --domain DOMAIN (the system and apps domain) and --router-port PORT (the
                      routers' public port). Copy it to each machine's DEVBOX_HOME, mode 0600.

ENVIRONMENT
  DEVBOX_HOME         the state directory (default ~/.devbox), for config.json and run/ports.json

EXAMPLES
  $ devbox component bus --port 4222 --status-port 8222
  $ devbox component router --nats-url nats://TOKEN@10.0.0.5:4222 --port 8080
  $ devbox component dea --nats-url nats://TOKEN@10.0.0.5:4222 --dea-id dea-b1 --memory 8192 \\
      --advertise 10.0.0.6 --host 0.0.0.0
  (a whole layout across machines: docs/scale-out.md)
`;

function integer(value: string | undefined, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new UsageError(`--${flag} must be a whole number from 0 to ${max}, got '${value}'`);
  return n;
}

class UsageError extends Error {}

/** `--init`: the config.json every machine of a scaled-out devbox shares (docs/scale-out.md). */
function initConfig(domain: string | undefined, routerPort: number | undefined): number {
  if (domain !== undefined && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(domain)) throw new UsageError(`--domain '${domain}' is not a DNS name`);
  if (routerPort === 0) throw new UsageError('--router-port must be a port number from 1 to 65535');
  const paths = statePaths(resolveHome());
  ensureStateDirs(paths);
  // Existing secrets are kept: running --init again on a copied config.json changes only what is asked.
  const config = ensureConfig(paths);
  if (domain !== undefined) config.domain = domain.toLowerCase();
  if (routerPort !== undefined) config.router_port = routerPort;
  writeSecretJson(paths.config, config);
  process.stdout.write(`${paths.config} (domain ${config.domain}, router port ${config.router_port})\nCopy it to DEVBOX_HOME on every machine of the box, mode 0600: it holds the shared secrets.\n`);
  return 0;
}

/** Returns the process exit code for usage errors; otherwise runs until the component stops. */
export async function componentMain(argv: string[]): Promise<number | undefined> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        index: { type: 'string' },
        'nats-url': { type: 'string' },
        'status-port': { type: 'string' },
        port: { type: 'string' },
        db: { type: 'string' },
        'mysql-url': { type: 'string' },
        host: { type: 'string' },
        advertise: { type: 'string' },
        'dea-id': { type: 'string' },
        memory: { type: 'string' },
        dir: { type: 'string' },
        'node-id': { type: 'string' },
        plan: { type: 'string' },
        capacity: { type: 'string' },
        init: { type: 'boolean' },
        domain: { type: 'string' },
        'router-port': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(COMPONENT_USAGE);
      return 0;
    }
    const [name, ...extra] = positionals;
    if (values.init) {
      if (name) throw new UsageError(`--init takes no component NAME (got '${name}')`);
      return initConfig(values.domain, integer(values['router-port'], 'router-port', 65535));
    }
    if (values.domain !== undefined || values['router-port'] !== undefined) throw new UsageError('--domain and --router-port go with --init (they are kept in config.json)');
    if (!name) throw new UsageError('missing the component NAME');
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    if (!componentNames().includes(name)) throw new UsageError(`unknown component '${name}'; one of: ${componentNames().join(', ')}`);
    const index = integer(values.index, 'index', 1000);
    // Component settings are read from the environment; the flags are the same settings by name.
    const settings: Record<string, string | undefined> = {
      DEVBOX_CONTROLLER_DB: values.db,
      DEVBOX_MYSQL_URL: values['mysql-url'],
      DEVBOX_HOST: values.host,
      DEVBOX_ADVERTISE: values.advertise,
      DEVBOX_DEA_ID: values['dea-id'],
      DEVBOX_DEA_MEMORY_MB: values.memory === undefined ? undefined : String(integer(values.memory, 'memory', 16 * 1024 * 1024)),
      DEVBOX_DEA_DIR: values.dir,
      [name === 'redis-node' ? 'DEVBOX_REDIS_NODE_ID' : 'DEVBOX_MYSQL_NODE_ID']: values['node-id'],
      DEVBOX_MYSQL_PLANS: values.plan,
      [name === 'redis-node' ? 'DEVBOX_REDIS_CAPACITY' : 'DEVBOX_MYSQL_CAPACITY']: values.capacity === undefined ? undefined : String(integer(values.capacity, 'capacity', 1_000_000)),
    };
    for (const [key, value] of Object.entries(settings)) if (value) process.env[key] = value;
    await runComponent(await loadComponent(name), {
      name,
      index,
      home: resolveHome(),
      natsUrl: values['nats-url'],
      statusPort: integer(values['status-port'], 'status-port', 65535),
      port: integer(values.port, 'port', 65535),
    });
    return undefined;
  } catch (error) {
    if (error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(error as Error).message}\nSee 'devbox component --help'.\n`);
      return 2;
    }
    throw error;
  }
}
