// A streaming multipart/form-data reader for uploads: each part is handed over as a stream while it
// arrives, so a large `bits` part is never held in memory. Backpressure flows from the part's
// consumer to the request.
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { ApiError } from '../errors.js';

export interface Part {
  name: string;
  filename?: string;
  headers: Record<string, string>;
  stream: PassThrough;
}

export function boundaryOf(contentType: string | undefined): string {
  const match = /^multipart\/form-data\s*;.*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  if (!match) throw new ApiError('MessageParseError', 'Request invalid due to parse error: expected a multipart/form-data body');
  return match[1] ?? match[2];
}

/**
 * Reads the parts of `req` in order, calling `onPart` for each and waiting for its promise before
 * the next part starts (so a consumer may read the part fully before it sees the next one).
 */
export async function readMultipart(req: IncomingMessage, onPart: (part: Part) => Promise<void>): Promise<void> {
  const boundary = Buffer.from(`--${boundaryOf(req.headers['content-type'])}`);
  const delimiter = Buffer.concat([Buffer.from('\r\n'), boundary]);
  let buffer: Buffer = Buffer.alloc(0);
  let state: 'preamble' | 'headers' | 'body' | 'done' = 'preamble';
  let current: { part: Part; done: Promise<void> } | undefined;
  const pending: Promise<void>[] = [];

  const finishPart = async () => {
    if (!current) return;
    current.part.stream.end();
    await current.done;
    current = undefined;
  };

  for await (const chunk of req) {
    buffer = buffer.length ? Buffer.concat([buffer, chunk as Buffer]) : (chunk as Buffer);
    for (;;) {
      if (state === 'preamble') {
        const at = buffer.indexOf(boundary);
        if (at < 0) {
          if (buffer.length > 64 * 1024) throw new ApiError('MessageParseError', 'Request invalid due to parse error: no multipart boundary found');
          break;
        }
        buffer = buffer.subarray(at + boundary.length);
        state = 'headers';
      } else if (state === 'headers') {
        if (buffer.length >= 2 && buffer.subarray(0, 2).toString() === '--') {
          state = 'done';
          break;
        }
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buffer.length > 16 * 1024) throw new ApiError('MessageParseError', 'Request invalid due to parse error: multipart headers too long');
          break;
        }
        const headers: Record<string, string> = {};
        for (const line of buffer.subarray(0, end).toString('utf8').split('\r\n')) {
          const colon = line.indexOf(':');
          if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        buffer = buffer.subarray(end + 4);
        const disposition = headers['content-disposition'] ?? '';
        const name = /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? '';
        const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
        const part: Part = { name, filename, headers, stream: new PassThrough() };
        const done = onPart(part);
        done.catch(() => undefined);
        pending.push(done);
        current = { part, done };
        state = 'body';
      } else if (state === 'body') {
        const at = buffer.indexOf(delimiter);
        if (at < 0) {
          // Keep enough to recognise a delimiter split across chunks.
          const keep = delimiter.length;
          if (buffer.length > keep) {
            const out = buffer.subarray(0, buffer.length - keep);
            buffer = buffer.subarray(buffer.length - keep);
            if (!current!.part.stream.write(out)) await waitDrainOrDone(current!);
          }
          break;
        }
        if (at > 0 && !current!.part.stream.write(buffer.subarray(0, at))) await waitDrainOrDone(current!);
        buffer = buffer.subarray(at + delimiter.length);
        await finishPart();
        state = 'headers';
      } else {
        break;
      }
    }
    if (state === 'done') break;
  }
  if (state !== 'done') {
    current?.part.stream.destroy(new Error('the upload ended before its last part'));
    throw new ApiError('MessageParseError', 'Request invalid due to parse error: the multipart body ended early');
  }
  await Promise.all(pending);
}

/** Waits until the consumer wants more, or has finished (or failed) with the part. */
function waitDrainOrDone(current: { part: Part; done: Promise<void> }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    current.part.stream.once('drain', () => resolve());
    current.done.then(() => resolve(), reject);
  });
}
