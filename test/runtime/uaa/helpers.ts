// Shared by the uaa tests: a config with a fresh signing key, and a small HTTP client that can set
// the Host header (to go through the router) and returns status, headers and parsed body.
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { DevboxConfig } from '../../../src/runtime/common/config.js';

export interface TestKey {
  kid: string;
  private_pem: string;
  public_pem: string;
}

export function testKey(kid = 'test-key'): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    kid,
    private_pem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    public_pem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function testConfig(key: TestKey, overrides: { adminPassword?: string; routerPort?: number } = {}): DevboxConfig {
  return {
    version: 1,
    domain: 'localhost',
    router_port: overrides.routerPort ?? 8080,
    bus: { token: 'bus-token' },
    status: { user: 'devbox', password: 'status-pw' },
    uaa: {
      admin: { username: 'admin', password: overrides.adminPassword ?? 'admin-secret-pw' },
      cli_client: { id: 'cf', secret: '' },
      components_client: { id: 'devbox_components', secret: 'components-secret' },
      ssh_proxy_client: { id: 'ssh-proxy', secret: 'ssh-proxy-secret' },
      access_token_validity_seconds: 1200,
      refresh_token_validity_seconds: 604800,
      signing_key: key,
    },

    mysql: { root_password: 'unused', broker: { username: 'broker', password: 'unused' } },
    ssh: { host_key_pem: 'unused' },
  };
}

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // Parsed JSON bodies are checked field by field in the tests.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface HttpRequest {
  method?: string;
  path: string;
  host?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
}

/** One HTTP/1.1 request to 127.0.0.1:port (no keep-alive), bounded by timeoutMs. */
export function httpRequest(port: number, r: HttpRequest): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { connection: 'close', ...r.headers };
    if (r.host) headers.host = r.host;
    if (r.body !== undefined && !headers['transfer-encoding']) headers['content-length'] ??= String(Buffer.byteLength(r.body));
    const req = http.request({ host: '127.0.0.1', port, method: r.method ?? 'GET', path: r.path, headers, timeout: r.timeoutMs ?? 5_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${r.method ?? 'GET'} ${r.path} timed out`)));
    req.on('error', reject);
    req.end(r.body);
  });
}

export const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
export const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
export const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** POST /oauth/token with form fields and optional basic auth. */
export function tokenRequest(port: number, fields: Record<string, string>, auth?: string, extra: Partial<HttpRequest> = {}): Promise<HttpReply> {
  return httpRequest(port, {
    method: 'POST',
    path: '/oauth/token',
    body: form(fields),
    ...extra,
    headers: { ...FORM, accept: 'application/json', ...(auth ? { authorization: auth } : {}), ...extra.headers },
  });
}

/** The claims of a JWT, unverified (to look at them in assertions). */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

export function headerOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
}

export const silentLog = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLog;
  },
};
