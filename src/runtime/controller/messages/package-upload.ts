// A package upload (`POST /v3/packages/:guid/upload`): multipart, a `resources` part (JSON: the
// files the blobstore has already, and where they go) and a `bits` part (a gzipped tarball of the
// rest). Read as it arrives, never held whole: the `bits` stream is handed to the action's consumer
// while it streams in. The size limit holds for what is declared and for what arrives.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { ApiError } from '../errors.js';
import { readMultipart } from '../http/multipart.js';
import { resourcesList, type PackageResource } from './packages.js';

const MAX_RESOURCES_PART = 16 * 1024 * 1024;

export const packageTooLarge = (maxBytes: number) => new ApiError('RequestEntityTooLarge', `The app package is larger than the limit of ${Math.round(maxBytes / 1024 / 1024)} MB`);

export interface PackageUpload {
  /**
   * Reads the upload to its end, calling `onBits` with the `bits` part's stream (and waiting for
   * it) while it arrives. Resolves with the `resources` part and whether there were bits.
   */
  read(onBits: (bits: Readable) => Promise<void>): Promise<{ resources: PackageResource[]; sawBits: boolean }>;
}

export function packageUploadMessage(body: IncomingMessage, maxBytes: number): PackageUpload {
  return {
    async read(onBits) {
      const declared = Number(body.headers['content-length'] ?? 0);
      if (declared > maxBytes) throw packageTooLarge(maxBytes);
      let received = 0;
      body.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxBytes) body.destroy(packageTooLarge(maxBytes));
      });
      let resources: PackageResource[] = [];
      let sawBits = false;
      try {
        await readMultipart(body, async (part) => {
          if (part.name === 'resources') {
            resources = await readResources(part.stream);
          } else if (part.name === 'bits') {
            sawBits = true;
            await onBits(part.stream);
          } else {
            part.stream.resume();
            await new Promise((resolve) => part.stream.on('end', resolve));
          }
        });
      } catch (error) {
        if (received > maxBytes) throw packageTooLarge(maxBytes);
        throw error;
      }
      return { resources, sawBits };
    },
  };
}

async function readResources(stream: Readable): Promise<PackageResource[]> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > MAX_RESOURCES_PART) throw new ApiError('RequestEntityTooLarge', 'The resources list is larger than 16 MB');
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]');
  } catch {
    throw new ApiError('MessageParseError', 'Request invalid due to parse error: the resources part is not JSON');
  }
  return resourcesList(parsed);
}
