// The services' settings from the environment (what `devbox component … --capacity` and the tests set).
import { isSubjectToken } from '../common/bus.js';
import type { PortsFile } from '../common/config.js';

/** A number from the environment; `fallback` when it is unset, not a number, or below `min` (default 0). */
export function envNumber(name: string, fallback: number, { min = 0 } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  return Number.isFinite(value) && value >= min ? value : fallback;
}

/** A node's id (`--node-id`, in `variable`; else `fallback`): part of bus subjects, so checked as one. */
export function nodeIdFrom(variable: string, fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  const id = env[variable] || fallback;
  if (!isSubjectToken(id)) throw new Error(`${variable}='${id}': use letters, digits, - and _ only (it is part of NATS subjects)`);
  return id;
}

/** The ports the box has promised (router, bus, HTTPS, ssh, status servers): never a service server's. */
export function boxPorts(ports: PortsFile | undefined): number[] {
  if (!ports) return [];
  const optional = [ports.bus_port, ports.router_tls_port, ports.ssh_port].filter((p): p is number => typeof p === 'number' && p > 0);
  return [ports.router_port, ...optional, ...Object.values(ports.components).map((c) => c.status_port)];
}
