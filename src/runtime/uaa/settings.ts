// uaa's settings: its users and clients (from config.json), token validities (config.json, then
// the environment for tests), its public URL (the token issuer) and its port.
import { createHash } from 'node:crypto';
import { devboxVersion } from '../common/version.js';
import { uaaBaseUrl, uaaIssuer, type DevboxConfig, type UaaConfig } from '../common/config.js';
import { DEFAULT_AUTHORIZATION_CODE_POLICY, type AuthorizationCodePolicy } from './authorization-codes.js';
import { DEFAULT_LOCKOUT_POLICY, type LockoutPolicy } from './lockout.js';

export type GrantType = 'password' | 'client_credentials' | 'refresh_token' | 'authorization_code';

export interface UaaUser {
  /** Stable across restarts: derived from the user name and the box's signing key id. */
  id: string;
  username: string;
  password: string;
  email: string;
  givenName: string;
  familyName: string;
  /** The user's groups: what a user token may carry (intersected with the client's scopes). */
  groups: string[];
  /** The identity provider: always UAA's own user store. */
  origin: 'uaa';
}

export interface UaaClient {
  id: string;
  /** '' for a public client such as `cf`. */
  secret: string;
  grantTypes: GrantType[];
  /** Scopes of user tokens issued through this client. */
  scopes: string[];
  /** Scopes of its own client_credentials tokens. */
  authorities: string[];
}

export interface UaaSettings {
  domain: string;
  /** Public URL, e.g. http://uaa.localhost:8080. */
  baseUrl: string;
  issuer: string;
  /** 0: any free port. */
  port: number;
  accessTokenValiditySeconds: number;
  refreshTokenValiditySeconds: number;
  signingKey: { kid: string; privatePem: string; publicPem: string };
  users: UaaUser[];
  clients: UaaClient[];
  version: string;
  /** Failed password logins lock a user name out for a while (lockout.ts). */
  lockout: LockoutPolicy;
  /** One-time codes for the ssh proxy (authorization-codes.ts): their lifetime and how many are kept. */
  authorizationCodes: AuthorizationCodePolicy;
}

/** The admin user's groups (DESIGN: what `cf` needs as a Cloud Foundry admin). */
export const ADMIN_SCOPES = ['openid', 'cloud_controller.admin', 'cloud_controller.read', 'cloud_controller.write', 'doppler.firehose', 'uaa.user'];
/** The components' client's authorities. */
export const COMPONENTS_AUTHORITIES = ['cloud_controller.admin', 'doppler.firehose'];

/** A UUID-shaped id derived from a name, so that a user keeps its id across restarts. */
export function stableId(...parts: string[]): string {
  const hex = createHash('sha256').update(parts.join('\0')).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function seconds(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a whole number of seconds (1 or more), got '${raw}'`);
  return n;
}

function count(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number (0 or more), got '${raw}'`);
  return n;
}

/** UAA's lockout policy, from DEVBOX_UAA_LOCKOUT_* (tests shorten it; 0 failures: no lockout). */
export function lockoutPolicy(env: NodeJS.ProcessEnv = process.env): LockoutPolicy {
  return {
    lockoutAfterFailures: count(env, 'DEVBOX_UAA_LOCKOUT_AFTER_FAILURES', DEFAULT_LOCKOUT_POLICY.lockoutAfterFailures),
    countFailuresWithinSeconds: seconds(env, 'DEVBOX_UAA_LOCKOUT_COUNT_FAILURES_WITHIN', DEFAULT_LOCKOUT_POLICY.countFailuresWithinSeconds),
    lockoutPeriodSeconds: seconds(env, 'DEVBOX_UAA_LOCKOUT_PERIOD', DEFAULT_LOCKOUT_POLICY.lockoutPeriodSeconds),
  };
}

function port(env: NodeJS.ProcessEnv, given?: number): number {
  if (given !== undefined) return given;
  const raw = env.DEVBOX_UAA_PORT;
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`DEVBOX_UAA_PORT must be a port number, got '${raw}'`);
  return n;
}

export interface SettingsOptions {
  /** The router's actual port (run/ports.json); config.router_port otherwise. */
  routerPort?: number;
  /** The --port flag. */
  port?: number;
  env?: NodeJS.ProcessEnv;
}

export function uaaSettings(config: DevboxConfig, { routerPort, port: givenPort, env = process.env }: SettingsOptions = {}): UaaSettings {
  const uaa = config.uaa;
  if (!uaa?.signing_key?.private_pem || !uaa.signing_key.public_pem) {
    throw new Error('config.json has no uaa signing key; run `devbox up` once to generate it');
  }
  const baseUrl = env.DEVBOX_UAA_URL ? new URL(env.DEVBOX_UAA_URL).href.replace(/\/+$/, '') : uaaBaseUrl(config.domain, routerPort ?? config.router_port);
  const admin = uaa.admin;
  const email = admin.username.includes('@') ? admin.username : `${admin.username}@${config.domain}`;
  const users: UaaUser[] = [
    {
      id: stableId('uaa-user', admin.username, uaa.signing_key.kid),
      username: admin.username,
      password: admin.password,
      email,
      givenName: admin.username,
      familyName: '',
      groups: ADMIN_SCOPES,
      origin: 'uaa',
    },
  ];
  const clients: UaaClient[] = [
    { id: uaa.cli_client.id, secret: uaa.cli_client.secret ?? '', grantTypes: ['password', 'refresh_token'], scopes: ADMIN_SCOPES, authorities: ['uaa.none'] },
    { id: uaa.components_client.id, secret: uaa.components_client.secret, grantTypes: ['client_credentials'], scopes: ['uaa.none'], authorities: COMPONENTS_AUTHORITIES },
  ];
  // The ssh proxy's client (CF's `ssh-proxy`): redeems users' one-time codes and nothing else. Its
  // scopes are the CLI's, so that a code gives the token the password grant would have given.
  // (A config.json written before the ssh proxy existed has none until `devbox up` fills it in.)
  const sshProxy = (uaa as Partial<UaaConfig>).ssh_proxy_client;
  if (sshProxy) clients.push({ id: sshProxy.id, secret: sshProxy.secret, grantTypes: ['authorization_code'], scopes: ADMIN_SCOPES, authorities: ['uaa.none'] });
  return {
    domain: config.domain,
    baseUrl,
    issuer: uaaIssuer(baseUrl),
    port: port(env, givenPort),
    accessTokenValiditySeconds: seconds(env, 'DEVBOX_UAA_ACCESS_TOKEN_VALIDITY', uaa.access_token_validity_seconds ?? 1200),
    refreshTokenValiditySeconds: seconds(env, 'DEVBOX_UAA_REFRESH_TOKEN_VALIDITY', uaa.refresh_token_validity_seconds ?? 7 * 24 * 3600),
    signingKey: { kid: uaa.signing_key.kid, privatePem: uaa.signing_key.private_pem, publicPem: uaa.signing_key.public_pem },
    users,
    clients,
    version: devboxVersion(),
    lockout: lockoutPolicy(env),
    authorizationCodes: { ...DEFAULT_AUTHORIZATION_CODE_POLICY },
  };
}
