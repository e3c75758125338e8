// Talking to a real box's API through its router, as the CLI does: a token from uaa (password grant
// as the generated admin), then v3 requests with the Host header api.<domain>.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { request, type HttpResponse } from '../../src/runtime/common/http.js';
import { statePaths, type DevboxConfig } from '../../src/runtime/common/config.js';
import { waitFor } from '../../src/runtime/common/poll.js';

export interface BoxApi {
  api: string;
  uaa: string;
  token: string;
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResponse & { json: () => any }>; // eslint-disable-line @typescript-eslint/no-explicit-any -- tests read arbitrary JSON shapes
}

export async function passwordToken(uaa: string, username: string, password: string): Promise<HttpResponse> {
  return request({
    url: `${uaa}/oauth/token`,
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from('cf:').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  });
}

/** A job of the API as `GET /v3/jobs/:guid` renders it. */
export interface ApiJob {
  guid: string;
  state: 'PROCESSING' | 'POLLING' | 'COMPLETE' | 'FAILED';
  errors: { detail: string; title: string; code: number }[];
}

/**
 * The end of the job a `202 Accepted` names in its Location (a service instance's or binding's
 * create or delete: docs/services.md), bounded, asked every `intervalMs`; throws when the answer was
 * not a 202.
 */
export async function jobOutcome(api: Pick<BoxApi, 'call'>, res: HttpResponse, timeoutMs = 60_000, intervalMs = 100): Promise<ApiJob> {
  const location = res.headers.location;
  if (res.status !== 202 || typeof location !== 'string') throw new Error(`expected 202 with a job's Location, got ${res.status}: ${res.text}`);
  const jobPath = new URL(location, 'http://api').pathname;
  return waitFor(`job ${jobPath} to end`, async () => {
    const job = (await api.call('GET', jobPath)).json() as ApiJob;
    return job.state === 'COMPLETE' || job.state === 'FAILED' ? job : undefined;
  }, { timeoutMs, intervalMs });
}

export async function boxApi(home: string, routerPort: number): Promise<BoxApi> {
  const config = JSON.parse(fs.readFileSync(statePaths(home).config, 'utf8')) as DevboxConfig;
  const api = `http://api.${config.domain}:${routerPort}`;
  const uaa = `http://uaa.${config.domain}:${routerPort}`;
  const res = await passwordToken(uaa, config.uaa.admin.username, config.uaa.admin.password);
  assert.equal(res.status, 200, `token request failed: ${res.text}`);
  const token = (JSON.parse(res.text) as { access_token: string }).access_token;
  return {
    api,
    uaa,
    token,
    async call(method, path, body, headers = {}) {
      const response = await request({
        url: `${api}${path}`,
        method,
        headers: { authorization: `bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      return { ...response, json: () => JSON.parse(response.text) };
    },
  };
}
