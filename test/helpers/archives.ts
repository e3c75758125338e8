// Building app archives for upload tests, including hostile ones (paths and links that escape),
// written entry by entry so that nothing sanitises them on the way.
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync, gunzipSync } from 'node:zlib';
import { Header, Pax, Parser, type ReadEntry } from 'tar';

export interface ArchiveEntry {
  path: string;
  content?: string | Buffer;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice';
  linkpath?: string;
  mode?: number;
}

export function tarball(entries: ArchiveEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = e.content === undefined ? Buffer.alloc(0) : Buffer.from(e.content);
    const data = { path: e.path, mode: e.mode ?? 0o644, size: body.length, type: e.type ?? 'File', linkpath: e.linkpath, mtime: new Date(0) } as const;
    const header = new Header(data);
    header.encode();
    if (header.needPax) blocks.push(new Pax(data).encode());
    blocks.push(header.block!, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** The files of a gzipped tarball: path → content. */
export async function untar(gz: Buffer): Promise<Map<string, { type: string; content: string; linkpath?: string }>> {
  const out = new Map<string, { type: string; content: string; linkpath?: string }>();
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser();
    parser.on('entry', (entry: ReadEntry) => {
      const chunks: Buffer[] = [];
      entry.on('data', (c: Buffer) => chunks.push(c));
      entry.on('end', () => out.set(entry.path.replace(/\/$/, ''), { type: entry.type, content: Buffer.concat(chunks).toString(), linkpath: entry.linkpath }));
    });
    parser.on('end', () => resolve());
    parser.on('error', reject);
    parser.end(gunzipSync(gz));
  });
  return out;
}

export const sha1 = (content: string | Buffer) => createHash('sha1').update(content).digest('hex');

export function resource(path: string, content: string | Buffer) {
  return { path, checksum: { value: sha1(content) }, size_in_bytes: Buffer.byteLength(content), mode: '644' };
}

/** A multipart/form-data body with a `resources` part and, when given, a `bits` part. */
export function uploadBody(resources: unknown[], bits?: Buffer): { body: Buffer; contentType: string } {
  const boundary = `devbox-${randomBytes(8).toString('hex')}`;
  const parts: Buffer[] = [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="resources"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(resources)}\r\n`),
  ];
  if (bits) parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="bits"; filename="app.tgz"\r\nContent-Type: application/gzip\r\n\r\n`), bits, Buffer.from('\r\n'));
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(parts), contentType: `multipart/form-data; boundary=${boundary}` };
}
