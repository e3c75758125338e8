// Who may ssh where, decided as Diego's ssh-proxy decides it for Cloud Foundry: the user name says
// the process and the instance (`cf:<process guid>/<index>`), the password is a one-time code uaa
// issued to the user for the ssh proxy's client. The proxy redeems the code (the user's token), the
// controller says whether that user may ssh into that process (and records the audit event), and
// the DEA that runs the instance hands out a one-time login to its own ssh server.
import type { NatsConnection } from '../common/bus.js';
import { request as busRequest } from '../common/bus.js';
import { deaSshOpen, type SshOpenReply } from '../common/bus-messages.js';
import { request } from '../common/http.js';
import type { SshProxySettings } from './settings.js';

/** Why a login was refused: logged, never shown to the user (an ssh client only learns "denied"). */
export class LoginRefused extends Error {}

export interface SshTarget {
  processGuid: string;
  index: number;
  /** The DEA's answer: where to connect and with what. */
  instance: SshOpenReply;
}

const USERNAME = /^cf:([A-Za-z0-9][A-Za-z0-9-]{0,63})\/(\d{1,6})$/;
/** uaa's codes are short url-safe strings; anything else is not sent on. */
const CODE = /^[A-Za-z0-9_-]{1,128}$/;

export function parseUsername(username: string): { processGuid: string; index: number } | undefined {
  const match = USERNAME.exec(username);
  return match ? { processGuid: match[1], index: Number(match[2]) } : undefined;
}

export class Authorizer {
  constructor(
    private readonly settings: Pick<SshProxySettings, 'uaaUrl' | 'apiUrl' | 'client'>,
    private readonly bus: () => NatsConnection | undefined,
    private readonly timeoutMs = 10_000,
  ) {}

  async authorize(username: string, code: string): Promise<SshTarget> {
    const wanted = parseUsername(username);
    if (!wanted) throw new LoginRefused(`user name is not cf:<process guid>/<index>`);
    if (!CODE.test(code)) throw new LoginRefused('the password is not a one-time code');
    const token = await this.redeem(code);
    const access = await this.sshAccess(token, wanted.processGuid, wanted.index);
    const instance = await this.open(access.process_guid, access.version, wanted.index);
    return { processGuid: access.process_guid, index: wanted.index, instance };
  }

  /** The user's access token for a one-time code (uaa's authorization_code grant). */
  private async redeem(code: string): Promise<string> {
    const { id, secret } = this.settings.client;
    const res = await request({
      url: `${this.settings.uaaUrl}/oauth/token`,
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'authorization_code', code }).toString(),
      timeoutMs: this.timeoutMs,
      routeWaitMs: this.timeoutMs,
    });
    if (res.status !== 200) throw new LoginRefused(`uaa refused the code (${res.status})`);
    const token = (JSON.parse(res.text) as { access_token?: unknown }).access_token;
    if (typeof token !== 'string' || token === '') throw new LoginRefused('uaa answered no access token');
    return token;
  }

  /** The controller's word (GET /internal/apps/:guid/ssh_access/:index), as CC's for Diego. */
  private async sshAccess(token: string, processGuid: string, index: number): Promise<{ process_guid: string; version?: string }> {
    const res = await request({
      url: `${this.settings.apiUrl}/internal/apps/${encodeURIComponent(processGuid)}/ssh_access/${index}`,
      headers: { accept: 'application/json', authorization: `bearer ${token}` },
      timeoutMs: this.timeoutMs,
      routeWaitMs: this.timeoutMs,
    });
    if (res.status !== 200) throw new LoginRefused(`the controller refused ssh access (${res.status}: ${errorDetail(res.text)})`);
    const body = JSON.parse(res.text) as { process_guid?: unknown; version?: unknown };
    if (typeof body.process_guid !== 'string') throw new LoginRefused('the controller answered no process_guid');
    return { process_guid: body.process_guid, version: typeof body.version === 'string' ? body.version : undefined };
  }

  /** The DEA running the instance answers with a one-time login; none answers when it is not running. */
  private async open(processGuid: string, version: string | undefined, index: number): Promise<SshOpenReply> {
    const nc = this.bus();
    if (!nc || nc.isClosed()) throw new LoginRefused('not connected to the bus');
    try {
      return await busRequest(nc, deaSshOpen, { droplet: processGuid, ...(version ? { version } : {}), index }, { timeout: 3_000 });
    } catch (error) {
      throw new LoginRefused(`no DEA runs instance ${index} of process ${processGuid} (${(error as Error).message})`);
    }
  }
}

/** A CF error body's detail, for the log. */
function errorDetail(text: string): string {
  try {
    const detail = (JSON.parse(text) as { errors?: { detail?: string }[] }).errors?.[0]?.detail;
    if (detail) return detail;
  } catch {
    // not JSON: the first line of it
  }
  return text.split('\n')[0].slice(0, 200);
}
