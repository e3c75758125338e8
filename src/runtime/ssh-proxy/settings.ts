// The ssh proxy's settings: where it listens, its host key, and where it finds uaa and the API
// (by name through the routers, as every component does: docs/scale-out.md).
import ssh2 from 'ssh2';
import { DEFAULT_SSH_PORT, uaaBaseUrl, type DevboxConfig } from '../common/config.js';
import { keyFingerprint } from '../common/ssh-keys.js';

export interface SshProxySettings {
  /** 0: any free port. */
  port: number;
  hostKeyPem: string;
  /** SHA-256 of the host key, unpadded base64 (what `cf ssh` compares). */
  hostKeyFingerprint: string;
  uaaUrl: string;
  apiUrl: string;
  client: { id: string; secret: string };
  /** How long a login may take, from the connection to an authenticated session. */
  loginTimeoutMs: number;
}

export function sshProxySettings(config: DevboxConfig, { routerPort, port }: { routerPort?: number; port?: number }): SshProxySettings {
  const key = ssh2.utils.parseKey(config.ssh.host_key_pem);
  if (key instanceof Error) throw new Error(`config.json ssh.host_key_pem is not a key ssh can use (${key.message}); remove the field and run 'devbox up' again to make a new one`);
  const parsed = Array.isArray(key) ? key[0] : key;
  const router = routerPort ?? config.router_port;
  return {
    port: port ?? DEFAULT_SSH_PORT,
    hostKeyPem: config.ssh.host_key_pem,
    hostKeyFingerprint: keyFingerprint(parsed.getPublicSSH()),
    uaaUrl: uaaBaseUrl(config.domain, router),
    apiUrl: new URL(`http://api.${config.domain}:${router}`).origin,
    client: config.uaa.ssh_proxy_client,
    loginTimeoutMs: 20_000,
  };
}
