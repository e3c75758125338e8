// The blobstore: app files stored once each, by sha1, under blobs/files/<aa>/<sha1>, so that a push
// uploads only what the controller does not already have (resource matching). A package is a list
// of entries pointing at those files; its tarball is built on the fly when a stager downloads it.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Header, Pax } from 'tar';

export interface PackageEntry {
  /** Relative, normalised, never escaping the app directory. */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  mode: number;
  sha1?: string;
  size?: number;
  /** Symlinks only: a relative target that stays inside the app directory. */
  target?: string;
}

const SHA1 = /^[0-9a-f]{40}$/;

export class Blobstore {
  readonly filesDir: string;
  private readonly tmpDir: string;

  constructor(readonly root: string) {
    this.filesDir = path.join(root, 'files');
    this.tmpDir = path.join(root, 'tmp');
    fs.mkdirSync(this.filesDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
  }

  filePath(sha1: string): string {
    if (!SHA1.test(sha1)) throw new Error(`not a sha1: ${sha1}`);
    return path.join(this.filesDir, sha1.slice(0, 2), sha1);
  }

  /** True when the file with this sha1 (and size, when given) is stored. */
  has(sha1: string, size?: number): boolean {
    if (!SHA1.test(sha1)) return false;
    try {
      const stat = fs.statSync(this.filePath(sha1));
      return size === undefined || stat.size === size;
    } catch {
      return false;
    }
  }

  /** Stores a stream, returning its sha1 and size; the file appears only once complete. */
  async put(source: AsyncIterable<Buffer | Uint8Array>, { maxBytes = Number.MAX_SAFE_INTEGER }: { maxBytes?: number } = {}): Promise<{ sha1: string; size: number }> {
    const tmp = path.join(this.tmpDir, randomUUID());
    const hash = createHash('sha1');
    let size = 0;
    const counter = new PassThrough();
    counter.on('data', (chunk: Buffer) => {
      size += chunk.length;
      hash.update(chunk);
      if (size > maxBytes) counter.destroy(new SizeLimitError(maxBytes));
    });
    try {
      await pipeline(source, counter, fs.createWriteStream(tmp, { mode: 0o600 }));
      const sha1 = hash.digest('hex');
      const final = this.filePath(sha1);
      fs.mkdirSync(path.dirname(final), { recursive: true, mode: 0o700 });
      fs.renameSync(tmp, final);
      return { sha1, size };
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  dropletPath(guid: string): string {
    if (!/^[0-9a-f-]{36}$/.test(guid)) throw new Error(`not a droplet guid: ${guid}`);
    return path.join(this.root, 'droplets', `${guid}.tgz`);
  }

  /** Stores a droplet (a gzipped tarball made by a DEA), returning its sha1 and size. */
  async putDroplet(guid: string, source: AsyncIterable<Buffer | Uint8Array>, maxBytes: number): Promise<{ sha1: string; size: number }> {
    const stored = await this.put(source, { maxBytes });
    const target = this.dropletPath(guid);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    // A droplet is also a blob: link it under its guid rather than copying it.
    fs.rmSync(target, { force: true });
    fs.linkSync(this.filePath(stored.sha1), target);
    return stored;
  }

  /** A gzipped tarball of a package's entries, read from the stored files. */
  tarball(entries: PackageEntry[]): Readable {
    const out = createGzip();
    void (async () => {
      const write = (chunk: Buffer) => (out.write(chunk) ? Promise.resolve() : new Promise<void>((resolve) => out.once('drain', () => resolve())));
      for (const entry of entries) {
        const data = { path: entry.path + (entry.type === 'directory' ? '/' : ''), mode: entry.mode, size: entry.type === 'file' ? (entry.size ?? 0) : 0, type: entry.type === 'file' ? 'File' : entry.type === 'directory' ? 'Directory' : 'SymbolicLink', linkpath: entry.target, mtime: new Date(0), uid: 0, gid: 0 } as const;
        const header = new Header(data);
        header.encode();
        if (header.needPax) await write(new Pax(data).encode());
        await write(header.block!);
        if (entry.type === 'file' && entry.size) {
          for await (const chunk of fs.createReadStream(this.filePath(entry.sha1!))) await write(chunk as Buffer);
          const pad = (512 - (entry.size % 512)) % 512;
          if (pad) await write(Buffer.alloc(pad));
        }
      }
      out.end(Buffer.alloc(1024));
    })().catch((error: unknown) => out.destroy(error as Error));
    return out;
  }
}

export class SizeLimitError extends Error {
  constructor(readonly limit: number) {
    super(`larger than the limit of ${limit} bytes`);
  }
}

/**
 * The path an archive entry may have: relative, normalised, inside the app directory.
 * Returns undefined for paths that escape (`../x`, `/etc/passwd`, `a/../../x`).
 */
export function safeEntryPath(raw: string): string | undefined {
  if (raw.includes('\0')) return undefined;
  const unixy = raw.replace(/\\/g, '/');
  if (unixy.startsWith('/') || /^[a-zA-Z]:/.test(unixy)) return undefined;
  const normalised = path.posix.normalize(unixy).replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (normalised === '..' || normalised.startsWith('../') || normalised === '' || normalised === '.') return undefined;
  return normalised;
}

/** A symlink at `linkPath` may point only inside the app directory, and only by a relative target. */
export function safeLinkTarget(linkPath: string, target: string): boolean {
  if (target.startsWith('/') || target.includes('\0')) return false;
  const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(linkPath), target));
  return resolved !== '..' && !resolved.startsWith('../');
}
