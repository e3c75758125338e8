// The blobstore: app files stored once each, by sha1, under blobs/files/<aa>/<sha1>, so that a push
// uploads only what the controller does not already have (resource matching). A package is a list
// of entries pointing at those files; its tarball is built on the fly when a stager downloads it.
// With a shared (MySQL) database every blob is also stored there, and blobs/ is then only this
// controller's cache: controllers on several machines serve the same packages and droplets.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Kysely } from 'kysely';
import { Header, Pax } from 'tar';
import type { Database } from './db/schema.js';

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
/** Rows of 1 MiB: well under MySQL's and MariaDB's default max_allowed_packet (16-64 MiB). */
const CHUNK_BYTES = 1024 * 1024;

/** Blobs in the controllers' shared database: chunks first, the `blobs` row last, marking it complete. */
export class DatabaseBlobs {
  constructor(private readonly db: Kysely<Database>) {}

  /** The sha1s among `wanted` stored with that size. */
  async present(wanted: { sha1: string; size?: number }[]): Promise<Set<string>> {
    const found = new Set<string>();
    const sha1s = [...new Set(wanted.map((w) => w.sha1).filter((s) => SHA1.test(s)))];
    for (let i = 0; i < sha1s.length; i += 1000) {
      const rows = await this.db.selectFrom('blobs').select(['sha1', 'size']).where('sha1', 'in', sha1s.slice(i, i + 1000)).execute();
      const sizes = new Map(rows.map((r) => [r.sha1, Number(r.size)]));
      for (const w of wanted) if (sizes.has(w.sha1) && (w.size === undefined || sizes.get(w.sha1) === w.size)) found.add(w.sha1);
    }
    return found;
  }

  /** Copies a complete local file in, unless another controller already did. */
  async store(sha1: string, size: number, file: string): Promise<void> {
    if ((await this.present([{ sha1 }])).has(sha1)) return;
    let seq = 0;
    for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
      // Two controllers storing the same blob write the same bytes: the second insert is ignored.
      await this.db.insertInto('blob_chunks').values({ sha1, seq: seq++, data: chunk as Buffer }).ignore().execute();
    }
    await this.db.insertInto('blobs').values({ sha1, size, chunks: seq, created_at: new Date().toISOString() }).ignore().execute();
  }

  /** Writes the blob to `file`; false when the database does not have it. */
  async fetch(sha1: string, file: string): Promise<boolean> {
    const blob = await this.db.selectFrom('blobs').select(['chunks']).where('sha1', '=', sha1).executeTakeFirst();
    if (!blob) return false;
    const db = this.db;
    // One chunk in memory at a time, however large the droplet.
    async function* chunks() {
      for (let seq = 0; seq < Number(blob!.chunks); seq++) {
        const row = await db.selectFrom('blob_chunks').select('data').where('sha1', '=', sha1).where('seq', '=', seq).executeTakeFirst();
        if (!row) throw new Error(`blob ${sha1} lacks its chunk ${seq} in the database`);
        yield row.data;
      }
    }
    await pipeline(chunks(), fs.createWriteStream(file, { mode: 0o600 }));
    return true;
  }
}

export class Blobstore {
  readonly filesDir: string;
  private readonly tmpDir: string;

  /** `shared`: the controllers' database, when several controllers share one (MySQL). */
  constructor(
    readonly root: string,
    private readonly shared?: DatabaseBlobs,
  ) {
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

  /** The sha1s among `wanted` stored with that size, here or in the shared database. */
  async present(wanted: { sha1: string; size?: number }[]): Promise<Set<string>> {
    const found = new Set(wanted.filter((w) => this.has(w.sha1, w.size)).map((w) => w.sha1));
    const missing = wanted.filter((w) => !found.has(w.sha1));
    if (this.shared && missing.length > 0) for (const sha1 of await this.shared.present(missing)) found.add(sha1);
    return found;
  }

  /** The local file of a blob, fetched from the shared database when another controller stored it. */
  async localFile(sha1: string): Promise<string> {
    const file = this.filePath(sha1);
    if (fs.existsSync(file) || !this.shared) return file;
    const tmp = path.join(this.tmpDir, randomUUID());
    try {
      if (await this.shared.fetch(sha1, tmp)) {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        fs.renameSync(tmp, file);
      }
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    return file;
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
    const out = fs.createWriteStream(tmp, { mode: 0o600 });
    try {
      await pipeline(source, counter, out);
      const sha1 = hash.digest('hex');
      const final = this.filePath(sha1);
      fs.mkdirSync(path.dirname(final), { recursive: true, mode: 0o700 });
      fs.renameSync(tmp, final);
      await this.shared?.store(sha1, size, final);
      return { sha1, size };
    } finally {
      await removeWhenClosed(out, tmp);
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

  /**
   * The droplet's file (a link to its blob). On a controller that did not receive the upload, it is
   * fetched by `sha1` from the shared database; undefined when it is nowhere.
   */
  async dropletFile(guid: string, sha1: string | null): Promise<string | undefined> {
    const target = this.dropletPath(guid);
    if (fs.existsSync(target)) return target;
    if (!sha1 || !SHA1.test(sha1)) return undefined;
    const blob = await this.localFile(sha1);
    if (!fs.existsSync(blob)) return undefined;
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    try {
      fs.linkSync(blob, target);
    } catch (error) {
      // A concurrent download linked it first.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    return target;
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
          for await (const chunk of fs.createReadStream(await this.localFile(entry.sha1!))) await write(chunk as Buffer);
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

/**
 * Removes a temporary file once its write stream has closed. A failed pipeline destroys the stream
 * while its open may still be under way: removed before that, the file would appear afterwards and
 * stay (seen: a refused upload's leftover in blobs/tmp).
 */
export async function removeWhenClosed(stream: fs.WriteStream, file: string): Promise<void> {
  if (!stream.closed) await new Promise<void>((resolve) => stream.once('close', () => resolve()));
  fs.rmSync(file, { force: true });
}
