// Streaming package and droplet transfers with the controller, through the router: GET a gzipped
// tarball into a file, POST a file. `*.localhost` hosts are reached at 127.0.0.1 with their Host
// header (Node's resolver does not map them to loopback). A 401 renews the token and tries once
// more; a route the router does not know yet (just after `up`) is asked again for a few seconds.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connectTarget } from '../common/http.js';
import { sleep } from '../common/net.js';
import type { TokenSource } from './uaa-client.js';

export interface TransferOptions {
  auth: TokenSource;
  /** No data for this long fails the transfer (default 60 s). */
  idleTimeoutMs?: number;
  /** Keep asking while the router does not know the host yet (default 10 s). */
  routeWaitMs?: number;
  /** Refuse downloads larger than this. */
  maxBytes?: number;
}

export class TransferError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}


const redact = (url: URL) => `${url.origin}${url.pathname}`;

/** One HTTP exchange; resolves with the response for the caller to consume. */
function send(url: URL, method: string, headers: Record<string, string>, body: fs.ReadStream | undefined, idleTimeoutMs: number): Promise<http.IncomingMessage> {
  if (url.protocol !== 'http:') return Promise.reject(new TransferError(`only http:// URLs are supported: ${redact(url)}`));
  return new Promise((resolve, reject) => {
    const req = http.request({ ...connectTarget(url), method, path: `${url.pathname}${url.search}`, headers: { host: url.host, ...headers }, timeout: idleTimeoutMs }, (res) => resolve(res));
    req.on('timeout', () => req.destroy(new TransferError(`${method} ${redact(url)}: no answer within ${idleTimeoutMs / 1000} s`)));
    req.on('error', (error) => reject(error instanceof TransferError ? error : new TransferError(`${method} ${redact(url)} failed: ${error.message}`)));
    if (body) {
      body.on('error', (error) => req.destroy(error));
      body.pipe(req);
    } else req.end();
  });
}

async function readText(res: http.IncomingMessage, limit = 4096): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    if (size < limit) chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}

/** Sends with auth, renewing the token once on 401 and waiting for an unknown route. */
async function exchange(url: URL, method: string, headers: Record<string, string>, makeBody: (() => fs.ReadStream) | undefined, options: TransferOptions): Promise<http.IncomingMessage> {
  const idle = options.idleTimeoutMs ?? 60_000;
  const deadline = Date.now() + (options.routeWaitMs ?? 10_000);
  let renewed = false;
  for (;;) {
    const token = await options.auth.token();
    const res = await send(url, method, { ...headers, ...(token ? { authorization: `bearer ${token}` } : {}) }, makeBody?.(), idle);
    if (res.statusCode === 401 && token && !renewed) {
      res.resume();
      options.auth.invalidate();
      renewed = true;
      continue;
    }
    if (res.statusCode === 404 && res.headers['x-cf-routererror'] === 'unknown_route' && Date.now() < deadline) {
      res.resume();
      await sleep(200);
      continue;
    }
    return res;
  }
}

/** Downloads `url` into `file`; returns its size and sha1. */
export async function downloadToFile(rawUrl: string, file: string, options: TransferOptions): Promise<{ size: number; sha1: string }> {
  const url = new URL(rawUrl);
  const res = await exchange(url, 'GET', { accept: 'application/gzip, application/octet-stream, */*' }, undefined, options);
  if (res.statusCode !== 200) {
    const text = await readText(res);
    throw new TransferError(`GET ${redact(url)} answered ${res.statusCode}: ${text.slice(0, 300)}`, res.statusCode);
  }
  const hash = createHash('sha1');
  let size = 0;
  const max = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > max) return done(new TransferError(`GET ${redact(url)}: larger than ${max} bytes`));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  await pipeline(res, counter, fs.createWriteStream(file, { mode: 0o600 }));
  return { size, sha1: hash.digest('hex') };
}

/** POSTs `file` to `url` as `contentType`; returns the response's status and body. */
export async function uploadFile(rawUrl: string, file: string, options: TransferOptions & { contentType?: string }): Promise<{ status: number; text: string }> {
  const url = new URL(rawUrl);
  const size = fs.statSync(file).size;
  const res = await exchange(
    url,
    'POST',
    { 'content-type': options.contentType ?? 'application/gzip', 'content-length': String(size), accept: 'application/json' },
    () => fs.createReadStream(file),
    options,
  );
  const text = await readText(res);
  const status = res.statusCode ?? 0;
  if (status < 200 || status >= 300) throw new TransferError(`POST ${redact(url)} answered ${status}: ${text.slice(0, 300)}`, status);
  return { status, text };
}
