// The CLI's view of a local box: is a supervisor running, where is the bus, and what do the
// components say about themselves. `devbox status` finds components the way Cloud Foundry's
// collector did: `vcap.component.discover` on the bus, then each one's /varz. The bus client is
// loaded only for that: every other command would pay ~45 ms at start for it.
import type { ComponentAnnouncement } from '../runtime/common/bus-messages.js';
import { cfApiTlsUrl, cfApiUrl, loadConfig, readPorts, statePaths, tlsFiles, type DevboxConfig, type PortsFile, type StatePaths } from '../runtime/common/config.js';
import { waitFor } from '../runtime/common/poll.js';
import { isAlive, runningSupervisor, type SupervisorRecord } from '../runtime/supervisor/lock.js';
import { CliError } from './base-command.js';

export interface ComponentStatus {
  name: string;
  type: string;
  index: number;
  pid?: number;
  status_port: number;
  healthy: boolean;
  uptime?: string;
  uptime_seconds?: number;
  rss_bytes?: number;
  /** A DEA's containers: `namespaces`, or `none` with which protections are missing and why (docs/security.md). */
  isolation?: { containers: string; detail: string };
  /** The ssh proxy's host key fingerprint (SHA-256, base64): what ssh clients are shown. */
  host_key_fingerprint?: string;
}

export interface BoxStatus {
  home: string;
  supervisor_pid: number;
  nats_url: string;
  router_port: number;
  /** What `cf api` is given: the cf address (docs/cf-cli.md), usable without /etc/hosts. */
  cf_api: string;
  /** The router's HTTPS port; null when the box serves no HTTPS (docs/router.md, "TLS"). */
  router_tls_port: number | null;
  /** The cf address over HTTPS (`https://127.0.0.1:<TLS port>`); null without HTTPS. */
  cf_api_tls: string | null;
  /** The box's CA certificate, which signs the router's certificates (what a client trusts); null without HTTPS. */
  ca_cert: string | null;
  /** Where ssh reaches instances (`cf ssh`, `devbox ssh`, plain ssh: docs/ssh.md); null without an ssh proxy. */
  ssh: { endpoint: string; host_key_fingerprint: string | null } | null;
  components: ComponentStatus[];
}

export class LocalBox {
  readonly paths: StatePaths;

  constructor(readonly home: string) {
    this.paths = statePaths(home);
  }

  supervisor(): SupervisorRecord | undefined {
    return runningSupervisor(this.paths.pidFile);
  }

  /** The running box's ports and config, or a CliError saying how to start one. */
  requireRunning(): { supervisor: SupervisorRecord; ports: PortsFile; config: DevboxConfig } {
    const supervisor = this.supervisor();
    const ports = supervisor && readPorts(this.paths);
    if (!supervisor || !ports) throw new CliError(`devbox is not running (state in ${this.home}). Start it with 'devbox up'.`);
    return { supervisor, ports, config: loadConfig(this.paths) };
  }

  async status({ timeoutMs = 1_000 } = {}): Promise<BoxStatus> {
    const { supervisor, ports, config } = this.requireRunning();
    const [{ connectBus, embeddedBusUrl, requestMany }, { componentDiscover }, { createLogger, redactUrl }] = await Promise.all([
      import('../runtime/common/bus.js'),
      import('../runtime/common/bus-messages.js'),
      import('../runtime/common/log.js'),
    ]);
    const natsUrl = ports.external_bus || !ports.bus_port ? ports.nats_url : embeddedBusUrl(ports.bus_port, config.bus.token);
    const expected = Object.keys(ports.components).length;
    const nc = await connectBus(natsUrl, { name: 'devbox-cli' }).catch((error: Error) => {
      throw new CliError(`cannot reach the bus at ${redactUrl(ports.nats_url)}: ${error.message}`);
    });
    const found: ComponentAnnouncement[] = [];
    // A malformed announcement is left out (the table then shows that component unhealthy), quietly.
    const log = createLogger('devbox-cli', { level: 'error', write: () => undefined });
    try {
      for await (const announcement of requestMany(nc, componentDiscover, undefined, { log, maxWait: timeoutMs, maxMessages: expected })) {
        found.push(announcement);
        if (found.length >= expected) break;
      }
    } finally {
      await nc.close();
    }
    const byPort = new Map(found.map((a) => [Number(a.host.split(':').pop()), a]));
    const components = await Promise.all(
      Object.entries(ports.components).map(([name, { status_port }]) => componentStatus(name, status_port, byPort.get(status_port), config)),
    );
    const tlsPort = ports.router_tls_port ?? null;
    const proxy = components.find((c) => c.name === 'ssh-proxy');
    return {
      home: this.home,
      supervisor_pid: supervisor.pid,
      nats_url: natsUrl,
      router_port: ports.router_port,
      cf_api: cfApiUrl(ports.router_port),
      router_tls_port: tlsPort,
      cf_api_tls: tlsPort ? cfApiTlsUrl(tlsPort) : null,
      ca_cert: tlsPort ? tlsFiles(this.paths).caCert : null,
      ssh: ports.ssh_port ? { endpoint: `127.0.0.1:${ports.ssh_port}`, host_key_fingerprint: proxy?.host_key_fingerprint ?? null } : null,
      components,
    };
  }

  /** Asks the supervisor to stop the box and waits until it has. */
  async down({ timeoutMs = 30_000 } = {}): Promise<SupervisorRecord | undefined> {
    const supervisor = this.supervisor();
    if (!supervisor) return undefined;
    process.kill(supervisor.pid, 'SIGTERM');
    await waitFor(`devbox (pid ${supervisor.pid}) to stop`, () => !isAlive(supervisor), {
      timeoutMs,
      retryIf: () => false,
      onTimeout: () => {
        throw new CliError(`devbox (pid ${supervisor.pid}) did not stop within ${timeoutMs / 1000} s; see ${this.paths.logs}/supervisor.log`);
      },
    });
    return supervisor;
  }
}

async function componentStatus(name: string, statusPort: number, announcement: ComponentAnnouncement | undefined, config: DevboxConfig): Promise<ComponentStatus> {
  const [user, password] = announcement?.credentials ?? [config.status.user, config.status.password];
  const auth = { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
  const base: ComponentStatus = { name, type: announcement?.type ?? '?', index: announcement?.index ?? 0, status_port: statusPort, healthy: false };
  try {
    const [health, varz] = await Promise.all([
      fetch(`http://127.0.0.1:${statusPort}/healthz`, { headers: auth, signal: AbortSignal.timeout(1_000) }),
      fetch(`http://127.0.0.1:${statusPort}/varz`, { headers: auth, signal: AbortSignal.timeout(1_000) }),
    ]);
    await health.arrayBuffer();
    const v = (await varz.json()) as { pid?: number; uptime?: string; uptime_seconds?: number; mem_bytes?: number; type?: string; isolation?: { containers: string; detail: string }; host_key_fingerprint?: string };
    const isolation = v.isolation && { containers: v.isolation.containers, detail: v.isolation.detail };
    const hostKey = typeof v.host_key_fingerprint === 'string' ? { host_key_fingerprint: v.host_key_fingerprint } : {};
    return { ...base, type: v.type ?? base.type, pid: v.pid, healthy: health.status === 200 && !!announcement, uptime: v.uptime, uptime_seconds: v.uptime_seconds, rss_bytes: v.mem_bytes, ...(isolation ? { isolation } : {}), ...hostKey };
  } catch {
    return base;
  }
}
