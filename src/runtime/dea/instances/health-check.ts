// Health checks as Cloud Foundry runs them while an instance starts: `port` (a TCP connection to
// $PORT), `http` (GET the endpoint on $PORT answers 200) and `process` (alive is healthy). The
// reasons read like Diego's, because they end up in the crash's exit description.
import http from 'node:http';
import net from 'node:net';
import type { HealthCheckType } from '../../common/bus-messages.js';

export interface HealthCheckSpec {
  type: HealthCheckType;
  port: number;
  endpoint?: string | null;
  /** One attempt's bound (Cloud Foundry's invocation timeout), ms. */
  attemptTimeoutMs?: number;
}

export interface HealthResult {
  healthy: boolean;
  reason: string;
}

function portCheck(port: number, timeoutMs: number): Promise<HealthResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (result: HealthResult) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done({ healthy: false, reason: `Failed to make TCP connection to port ${port}: timed out after ${timeoutMs / 1000}s` }));
    socket.once('connect', () => done({ healthy: true, reason: 'port open' }));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done({ healthy: false, reason: `Failed to make TCP connection to port ${port}: ${error.code === 'ECONNREFUSED' ? 'connection refused' : error.message}` }),
    );
  });
}

function httpCheck(port: number, endpoint: string, timeoutMs: number): Promise<HealthResult> {
  const pathname = endpoint.startsWith('/') ? endpoint : `/${endpoint}`;
  const failed = (why: string) => ({ healthy: false, reason: `Failed to make HTTP request to '${pathname}' on port ${port}: ${why}` });
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, method: 'GET', timeout: timeoutMs, agent: false, headers: { 'user-agent': 'devbox-healthcheck' } }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? { healthy: true, reason: 'status 200' } : failed(`received status code ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs / 1000}s`)));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(failed(error.code === 'ECONNREFUSED' ? 'connection refused' : error.message)));
    req.end();
  });
}

export async function checkOnce(spec: HealthCheckSpec): Promise<HealthResult> {
  const timeoutMs = spec.attemptTimeoutMs ?? 1_000;
  switch (spec.type) {
    case 'process':
    case 'none':
      return { healthy: true, reason: 'process is running' };
    case 'http':
      return httpCheck(spec.port, spec.endpoint || '/', timeoutMs);
    default:
      return portCheck(spec.port, timeoutMs);
  }
}
