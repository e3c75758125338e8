// The ssh proxies the controller has heard of (docs/ssh.md): the latest `ssh.advertise` tells
// where users reach one and the fingerprint of its host key, which `GET /` gives cf as
// `links.app_ssh` (cf: "SSH endpoint not set" while there is none).
import type { SshAdvertisement } from '../common/bus-messages.js';
import { addressUrls } from '../common/config.js';

export interface AppSshLink {
  /** host:port, as cf dials it. */
  href: string;
  meta: { host_key_fingerprint: string; oauth_client: string };
}

export class SshProxies {
  private latest?: SshAdvertisement;

  constructor(
    private readonly options: {
      /** `ssh.<domain>`: the proxy's name for requests that came to a name under the domain. */
      host: string;
      /** The uaa client users get one-time codes for (config.uaa.ssh_proxy_client.id). */
      oauthClient: string;
    },
  ) {}

  heard(advertisement: SshAdvertisement): void {
    this.latest = advertisement;
  }

  /**
   * The link for a request with this Host: on the cf address (127.0.0.1, localhost) the proxy is
   * reached at that host, as the API is; otherwise at `ssh.<domain>`. null while no proxy was heard.
   */
  link(requestHost: string | undefined): AppSshLink | null {
    if (!this.latest) return null;
    const onAddress = addressUrls(requestHost, undefined);
    const host = onAddress ? new URL(onAddress.api).hostname : this.options.host;
    return { href: `${host}:${this.latest.port}`, meta: { host_key_fingerprint: this.latest.host_key_fingerprint, oauth_client: this.options.oauthClient } };
  }
}
