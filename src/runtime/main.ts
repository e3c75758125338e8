// `devbox component <name>`: runs one component in the foreground. It is how the supervisor starts
// every component, and how a user runs one alone on another machine. bin/run.js sends this command
// here before oclif loads: every component start saves oclif's start-up time, which adds up when a
// whole box starts at once on two cores.
import { parseArgs } from 'node:util';
import { runComponent } from './common/component.js';
import { resolveHome } from './common/config.js';
import { componentNames, loadComponent } from './components.js';

export const COMPONENT_USAGE = `Run one devbox component in the foreground.

USAGE
  $ devbox component NAME [--index N] [--nats-url URL] [--status-port PORT] [--port PORT]

ARGUMENTS
  NAME  one of: ${componentNames().join(', ')}

FLAGS
  --index N           the instance index of this component (several DEAs, routers...); default 0
  --nats-url URL      the bus: nats://[token@]host:port, comma-separated for a cluster
                      (env DEVBOX_NATS_URL; default: the bus of the box in DEVBOX_HOME)
  --status-port PORT  port of its /healthz and /varz server (0: any free port)
  --port PORT         its service port, where it has one (the bus's client port, the router's)
  --db URL            controller: its database, mysql://USER:PASS@HOST:PORT/DB (env DEVBOX_CONTROLLER_DB)
  --mysql-url URL     mysql-node: an existing server, mysql://USER:PASS@HOST:PORT (env DEVBOX_MYSQL_URL)

ENVIRONMENT
  DEVBOX_HOME         the state directory (default ~/.devbox), for config.json and run/ports.json

EXAMPLES
  $ devbox component bus --port 4222 --status-port 8222
  $ devbox component router --nats-url nats://TOKEN@10.0.0.5:4222 --port 8080
`;

function integer(value: string | undefined, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new UsageError(`--${flag} must be a whole number from 0 to ${max}, got '${value}'`);
  return n;
}

class UsageError extends Error {}

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
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      process.stdout.write(COMPONENT_USAGE);
      return 0;
    }
    const [name, ...extra] = positionals;
    if (!name) throw new UsageError('missing the component NAME');
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    if (!componentNames().includes(name)) throw new UsageError(`unknown component '${name}'; one of: ${componentNames().join(', ')}`);
    const index = integer(values.index, 'index', 1000);
    // Component settings are read from the environment; the flags are the same settings by name.
    if (values.db) process.env.DEVBOX_CONTROLLER_DB = values.db;
    if (values['mysql-url']) process.env.DEVBOX_MYSQL_URL = values['mysql-url'];
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
