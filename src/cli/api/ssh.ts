// ssh switches (CC v3 app and space features): whether users may ssh into an app's instances
// (`/v3/apps/:guid/features/ssh`, `/v3/apps/:guid/ssh_enabled`) and into a space's apps
// (`/v3/spaces/:guid/features/ssh`), as cf's enable-ssh, disable-ssh, ssh-enabled, allow-space-ssh,
// disallow-space-ssh and space-ssh-allowed use them.
import { CliError } from '../base-command.js';
import type { Named } from '../session.js';
import { SshCodeRefused, sshCode } from '../uaa-client.js';
import type { ApiClient } from './client.js';
import type { Space } from './resources.js';

/** An app's or a space's feature, as the API renders it. */
export interface Feature {
  name: string;
  description: string;
  enabled: boolean;
}

/** `GET /v3/apps/:guid/ssh_enabled`: on only when both the space and the app allow it; `reason` says which does not. */
export interface SshEnabled {
  enabled: boolean;
  reason: string;
}

/** `links.app_ssh` of `GET /`: where the ssh proxy listens (`host:port`), its host key, uaa's client for codes. */
export interface SshEndpoint {
  href: string;
  hostKeyFingerprint?: string;
  oauthClient: string;
}

/** What `ssh` needs to connect (cf's GetSecureShellConfiguration…). */
export interface SshLogin {
  endpoint: string;
  hostKeyFingerprint: string;
  oauthClient: string;
  /** `cf:<process guid>/<index>`. */
  username: string;
  appGuid: string;
}

/** cf's default ssh client (configv3 DefaultSSHOAuthClient), when the API names none. */
const DEFAULT_SSH_CLIENT = 'ssh-proxy';

export class Ssh {
  constructor(private readonly client: ApiClient) {}

  /** The box's ssh proxy, from `GET /`; undefined when it runs none (cf: "SSH endpoint not set"). */
  async endpoint(): Promise<SshEndpoint | undefined> {
    const link = (await this.client.info()).links.app_ssh as { href?: unknown; meta?: { host_key_fingerprint?: unknown; oauth_client?: unknown } } | null | undefined;
    if (!link || typeof link.href !== 'string' || link.href === '') return undefined;
    const { host_key_fingerprint: fingerprint, oauth_client: oauthClient } = link.meta ?? {};
    return {
      href: link.href,
      hostKeyFingerprint: typeof fingerprint === 'string' && fingerprint !== '' ? fingerprint : undefined,
      oauthClient: typeof oauthClient === 'string' && oauthClient !== '' ? oauthClient : DEFAULT_SSH_CLIENT,
    };
  }

  /** A one-time code for the ssh proxy; the token is refreshed once when uaa refuses it, as cf does. */
  async code(clientId?: string): Promise<string> {
    const { session } = this.client;
    const id = clientId ?? (await this.endpoint())?.oauthClient ?? DEFAULT_SSH_CLIENT;
    try {
      return await sshCode(session.uaa, await session.accessToken(), id);
    } catch (error) {
      // uaa refused the token (expired early, or the box's key changed).
      if (!(error instanceof SshCodeRefused && error.error === 'invalid_token')) throw error;
      return sshCode(session.uaa, await session.refresh(), id);
    }
  }

  /** cf's checks before it connects, with cf's messages: the endpoint, the app started, the instance running. */
  async login(appName: string, processType: string, index: number): Promise<SshLogin> {
    const endpoint = await this.endpoint();
    if (!endpoint) throw new CliError('SSH endpoint not set: the box runs no ssh proxy (see devbox status)');
    if (!endpoint.hostKeyFingerprint) throw new CliError('SSH host key fingerprint not set');
    const app = await this.client.apps.get(appName);
    if (app.state !== 'STARTED') throw new CliError(`Application '${appName}' is not in the STARTED state`);
    const process = (await this.client.processes.ofApp(app.guid)).find((p) => p.type === processType);
    if (!process) throw new CliError(`Process ${processType} not found`);
    const instance = (await this.client.processes.instanceStats(process.guid)).find((s) => s.index === index);
    if (!instance) throw new CliError(`Instance ${index} of process ${processType} not found`);
    if (instance.state !== 'RUNNING') throw new CliError(`Instance ${index} of process ${processType} not running`);
    return { endpoint: endpoint.href, hostKeyFingerprint: endpoint.hostKeyFingerprint, oauthClient: endpoint.oauthClient, username: `cf:${process.guid}/${index}`, appGuid: app.guid };
  }

  appFeature(appGuid: string): Promise<Feature> {
    return this.client.call<Feature>('GET', `/v3/apps/${appGuid}/features/ssh`);
  }

  setAppFeature(appGuid: string, enabled: boolean): Promise<Feature> {
    return this.client.call<Feature>('PATCH', `/v3/apps/${appGuid}/features/ssh`, { enabled });
  }

  enabled(appGuid: string): Promise<SshEnabled> {
    return this.client.call<SshEnabled>('GET', `/v3/apps/${appGuid}/ssh_enabled`);
  }

  /** The targeted org, or a CliError saying how to target one (cf's space commands need an org, not a space). */
  targetedOrg(): Named {
    const { org } = this.client.session;
    if (!org) throw new CliError("No org targeted, use 'devbox target -o ORG' to target an org.");
    return org;
  }

  /** The space called `name` in the org. */
  space(org: Named, name: string): Promise<Space> {
    return this.client.orgs.space(org, name);
  }

  spaceFeature(spaceGuid: string): Promise<Feature> {
    return this.client.call<Feature>('GET', `/v3/spaces/${spaceGuid}/features/ssh`);
  }

  setSpaceFeature(spaceGuid: string, enabled: boolean): Promise<Feature> {
    return this.client.call<Feature>('PATCH', `/v3/spaces/${spaceGuid}/features/ssh`, { enabled });
  }
}
