// Packages: an app's files, and the one owner of the package state machine:
//   AWAITING_UPLOAD → READY (uploaded)
// A refused upload leaves the package AWAITING_UPLOAD, ready for a good one; devbox never sets
// FAILED (nothing processes a package after its upload, so nothing can fail later).
//
// The CLI asks `POST /v3/resource_matches` which files the blobstore has (by sha1 and size), then
// uploads the others as a gzipped tarball together with the list of matched ones (`POST
// /v3/packages/:guid/upload`, multipart: `resources` then `bits`). Entries that would escape the
// app directory are refused. Stagers download the package as one tarball.
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import nodePath from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import yauzl from 'yauzl';
import { isZipHeader } from '../../common/zip.js';
import { ApiError, unprocessable } from '../errors.js';
import { newGuid, now, type ControllerContext, type RequestContext } from '../context.js';
import { removeWhenClosed, safeEntryPath, safeLinkTarget, SizeLimitError, type PackageEntry } from '../blobstore.js';
import { packageTooLarge, type PackageUpload } from '../messages/package-upload.js';
import type { PackageCreateMessage, PackageResource } from '../messages/packages.js';
import { findApp, getApp } from '../repositories/apps.js';
import { insertPackage, markPackageReady, type PackageRow } from '../repositories/packages.js';
import { jsonColumn } from '../repositories/query.js';
import { recordAppEvent } from './audit.js';

type Context = Pick<ControllerContext, 'blobstore' | 'limits'>;

export async function createPackage(ctx: RequestContext, message: PackageCreateMessage): Promise<PackageRow> {
  const app = await findApp(ctx.db, message.appGuid);
  if (!app) throw unprocessable('App must exist');
  const at = now();
  const row: PackageRow = { guid: newGuid(), app_guid: app.guid, type: 'bits', state: 'AWAITING_UPLOAD', checksum: null, files: null, bytes: 0, error: null, created_at: at, updated_at: at };
  await ctx.db.transaction().execute(async (trx) => {
    await insertPackage(trx, row);
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.package.create', { package_guid: row.guid });
  });
  return row;
}

/** The resources the blobstore already has (by sha1 and size): the CLI uploads only the others. */
export async function matchResources(ctx: Context, resources: PackageResource[]): Promise<PackageResource[]> {
  const stored = await ctx.blobstore.present(resources.map((r) => ({ sha1: r.checksum.value, size: r.size_in_bytes })));
  return resources.filter((r) => stored.has(r.checksum.value));
}

const alreadyUploaded = (state: string) => unprocessable(`Package has already been uploaded (state ${state}); create a new package`);

/** Reads the upload (the request's multipart body) into the blobstore: AWAITING_UPLOAD → READY. */
export async function uploadPackage(ctx: RequestContext, pkg: PackageRow, upload: PackageUpload): Promise<PackageRow> {
  if (pkg.state !== 'AWAITING_UPLOAD') throw alreadyUploaded(pkg.state);
  const files = await readUpload(ctx, upload);
  const manifest = JSON.stringify(files);
  const bytes = files.reduce((sum, f) => sum + (f.size ?? 0), 0);
  const updated: PackageRow = { ...pkg, state: 'READY', files: manifest, bytes, checksum: createHash('sha256').update(manifest).digest('hex'), error: null, updated_at: now() };
  const app = await getApp(ctx.db, pkg.app_guid);
  await ctx.db.transaction().execute(async (trx) => {
    // Another upload of the same package may have finished first.
    if (!(await markPackageReady(trx, pkg.guid, updated, updated.updated_at))) throw alreadyUploaded('READY');
    await recordAppEvent(trx, ctx.actor, app, 'audit.app.package.upload', { package_guid: pkg.guid, bytes: updated.bytes });
  });
  return updated;
}

/** A READY package's files as one gzipped tarball, for a stager. */
export function packageTarball(ctx: Context, pkg: PackageRow): Readable {
  if (pkg.state !== 'READY') throw unprocessable(`Package is not ready to download (state ${pkg.state})`);
  return ctx.blobstore.tarball(jsonColumn('packages', pkg, 'files', [] as PackageEntry[]));
}

function invalidArchive(detail: string): ApiError {
  return unprocessable(`The uploaded package is invalid: ${detail}`);
}

const tooLarge = (ctx: Context) => packageTooLarge(ctx.limits.maxPackageBytes);

/** Reads the upload: the matched `resources` (in the blobstore already) and the `bits` tarball. The package's files, sorted by path. */
async function readUpload(ctx: Context, upload: PackageUpload): Promise<PackageEntry[]> {
  const entries = new Map<string, PackageEntry>();
  const budget = { bytes: ctx.limits.maxPackageBytes };
  const { resources: matched, sawBits } = await upload.read(async (bits) => {
    const { head, rest } = await sniff(bits, 4);
    if (isZipHeader(head)) await readZip(ctx, rest, entries, budget);
    else await readBits(ctx, rest, entries, budget);
  });
  const stored = await ctx.blobstore.present(matched.map((r) => ({ sha1: r.checksum.value, size: r.size_in_bytes })));
  for (const resource of matched) {
    const path = resource.path === undefined ? undefined : safeEntryPath(resource.path);
    if (path === undefined) throw invalidArchive(`the resource path '${resource.path ?? ''}' is outside the app directory`);
    if (!stored.has(resource.checksum.value)) {
      throw unprocessable(`The resource '${path}' (sha1 ${resource.checksum.value}) is not in the blobstore: upload it in the bits`);
    }
    budget.bytes -= resource.size_in_bytes;
    if (budget.bytes < 0) throw tooLarge(ctx);
    entries.set(path, { path, type: 'file', mode: (resource.mode ? parseInt(resource.mode, 8) : 0o644) | 0o600, sha1: resource.checksum.value, size: resource.size_in_bytes });
  }
  checkLinksTogether(entries);
  if (!sawBits && matched.length === 0) throw unprocessable('The upload has neither bits nor resources: nothing to package');
  return [...entries.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/** The first `bytes` bytes of a stream (fewer when it is shorter), and the whole stream again to read on. */
async function sniff(stream: Readable, bytes: number): Promise<{ head: Buffer; rest: Readable }> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < bytes) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    chunks.push(next.value);
    size += next.value.length;
  }
  const head = Buffer.concat(chunks);
  async function* again(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    while (!done) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head, rest: Readable.from(again(), { objectMode: false }) };
}


const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
/** The longest symlink target read from a zip (the target is the entry's content). */
const MAX_LINK_TARGET = 4096;

/**
 * Reads an uploaded zip (what the cf CLI sends) into the blobstore, with the tarball's checks: the
 * zip is spooled to a temporary file in the blobstore's directory (bounded by the package limit, as
 * zip needs random access), every entry's uncompressed size counts against the same limit before it
 * is read (and is checked against what it really unpacks to), entries that escape, absolute paths,
 * links pointing out, and devices or fifos (by their unix mode bits) are refused.
 */
async function readZip(ctx: Context, bits: Readable, entries: Map<string, PackageEntry>, budget: { bytes: number }): Promise<void> {
  const spool = nodePath.join(ctx.blobstore.root, 'tmp', `upload-${randomUUID()}.zip`);
  const out = fs.createWriteStream(spool, { mode: 0o600 });
  try {
    let spooled = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        spooled += chunk.length;
        if (spooled > ctx.limits.maxPackageBytes) return callback(tooLarge(ctx));
        callback(null, chunk);
      },
    });
    try {
      await pipeline(bits, limit, out);
    } catch (error) {
      // The rest of a refused upload is read and dropped, so the request completes and gets its answer.
      bits.resume();
      throw error;
    }
    let zip: yauzl.ZipFile;
    try {
      zip = await yauzl.openPromise(spool, { lazyEntries: true, validateEntrySizes: true, strictFileNames: false, autoClose: false });
    } catch (error) {
      throw invalidArchive(`not a zip archive (${(error as Error).message})`);
    }
    try {
      for await (const entry of zipEntries(zip)) await readZipEntry(ctx, zip, entry, entries, budget);
    } finally {
      zip.close();
    }
  } finally {
    await removeWhenClosed(out, spool);
  }
}

/** The zip's entries in order; yauzl's own refusals (absolute or climbing file names, bad sizes) as 422s. */
async function* zipEntries(zip: yauzl.ZipFile): AsyncGenerator<yauzl.Entry> {
  try {
    for await (const entry of zip.eachEntry()) yield entry;
  } catch (error) {
    if (error instanceof ApiError) throw error;
    const message = (error as Error).message;
    const escaping = /^(?:invalid relative path|absolute path): (.*)$/.exec(message);
    if (escaping) throw invalidArchive(`the entry '${escaping[1]}' is outside the app directory`);
    throw invalidArchive(`not a valid zip archive (${message})`);
  }
}

async function readZipEntry(ctx: Context, zip: yauzl.ZipFile, entry: yauzl.Entry, entries: Map<string, PackageEntry>, budget: { bytes: number }): Promise<void> {
  const name = entry.fileName;
  // Unix mode bits in the high half of the external attributes (zips made on unix); 0 elsewhere.
  const unixMode = (entry.versionMadeBy >> 8) === 3 ? entry.externalFileAttributes >>> 16 : 0;
  const kind = unixMode & S_IFMT;
  const isDirectory = name.endsWith('/') || kind === S_IFDIR;
  if (isDirectory && /^(\.\/?)+$/.test(name)) return;
  const path = safeEntryPath(name);
  if (path === undefined) throw invalidArchive(`the entry '${name}' is outside the app directory`);
  const mode = (unixMode & 0o777) || (isDirectory ? 0o755 : 0o644);
  if (isDirectory) {
    entries.set(path, { path, type: 'directory', mode: mode | 0o700 });
    return;
  }
  if (kind !== 0 && kind !== S_IFREG && kind !== S_IFLNK) {
    throw invalidArchive(`the entry '${name}' is not a file, directory or link (mode ${kind.toString(8)}); only files, directories and links inside the app are allowed`);
  }
  if (entry.isEncrypted()) throw invalidArchive(`the entry '${name}' is encrypted`);
  if (kind === S_IFLNK) {
    if (entry.uncompressedSize > MAX_LINK_TARGET) throw invalidArchive(`the link '${path}' has a target longer than ${MAX_LINK_TARGET} bytes`);
    const chunks: Buffer[] = [];
    for await (const chunk of await openEntry(zip, entry)) chunks.push(chunk as Buffer);
    const target = Buffer.concat(chunks).toString('utf8');
    if (!safeLinkTarget(path, target)) throw invalidArchive(`the link '${path}' points outside the app directory ('${target}')`);
    entries.set(path, { path, type: 'symlink', mode: 0o777, target });
    return;
  }
  // A bomb is refused by what it says it unpacks to, before a byte is inflated; yauzl checks that
  // the data really is that size, and the blobstore counts what it stores against the same budget.
  if (entry.uncompressedSize > budget.bytes) throw tooLarge(ctx);
  try {
    const { sha1, size } = await ctx.blobstore.put(await openEntry(zip, entry), { maxBytes: budget.bytes });
    budget.bytes -= size;
    entries.set(path, { path, type: 'file', mode: mode | 0o600, sha1, size });
  } catch (error) {
    if (error instanceof SizeLimitError) throw tooLarge(ctx);
    if (error instanceof ApiError) throw error;
    throw invalidArchive(`the entry '${name}' cannot be read (${(error as Error).message})`);
  }
}

async function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  try {
    return await zip.openReadStreamPromise(entry);
  } catch (error) {
    throw invalidArchive(`the entry '${entry.fileName}' cannot be read (${(error as Error).message})`);
  }
}

/** Reads the uploaded tarball into the blobstore, refusing entries that escape the app directory. */
async function readBits(ctx: Context, bits: Readable, entries: Map<string, PackageEntry>, budget: { bytes: number }): Promise<void> {
  const parser = new Parser({ strict: true });
  const stored: Promise<void>[] = [];
  let failure: Error | undefined;
  let finish: () => void = () => undefined;
  // Settles when the archive has been read to its end, or as soon as anything in it is refused.
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const fail = (error: Error) => {
    failure ??= error;
    parser.abort(error);
    finish();
  };
  parser.on('entry', (entry: ReadEntry) => {
    if (failure) return void entry.resume();
    // `tar -C dir .` writes the app directory itself as `./`: nothing to store.
    if (entry.type === 'Directory' && /^(\.\/?)+$/.test(entry.path)) return void entry.resume();
    const path = safeEntryPath(entry.path);
    if (path === undefined) {
      entry.resume();
      return fail(invalidArchive(`the entry '${entry.path}' is outside the app directory`));
    }
    const mode = (entry.mode ?? 0o644) & 0o777;
    if (entry.type === 'Directory') {
      entries.set(path, { path, type: 'directory', mode: mode | 0o700 });
      entry.resume();
    } else if (entry.type === 'SymbolicLink') {
      const target = entry.linkpath ?? '';
      entry.resume();
      if (!safeLinkTarget(path, target)) return fail(invalidArchive(`the link '${path}' points outside the app directory ('${target}')`));
      entries.set(path, { path, type: 'symlink', mode: 0o777, target });
    } else if (entry.type === 'File' || entry.type === 'OldFile' || entry.type === 'ContiguousFile') {
      const done = ctx.blobstore
        .put(entry, { maxBytes: budget.bytes })
        .then(({ sha1, size }) => {
          budget.bytes -= size;
          entries.set(path, { path, type: 'file', mode: mode | 0o600, sha1, size });
        })
        .catch((error: Error) => fail(error instanceof SizeLimitError ? tooLarge(ctx) : error));
      stored.push(done);
    } else {
      entry.resume();
      fail(invalidArchive(`the entry '${entry.path}' is a ${entry.type}; only files, directories and links inside the app are allowed`));
    }
  });
  parser.on('end', () => finish());
  parser.on('error', (error: Error) => fail(failure ?? invalidArchive(error.message)));
  parser.on('abort', (error: Error) => fail(failure ?? error));
  const gunzip = createGunzip();
  gunzip.on('error', (error) => fail(invalidArchive(`not a gzipped tarball (${error.message})`)));
  bits.on('error', (error) => fail(error));
  bits.pipe(gunzip).pipe(parser);
  await finished;
  // The rest of a refused upload is read and dropped, so the request completes and gets its answer.
  if (failure) {
    bits.unpipe();
    bits.resume();
  }
  await Promise.all(stored);
  if (failure) throw failure;
}

/**
 * Each link was checked alone as it arrived; together, links can still climb out (`a/up -> ..` is
 * inside, `b -> a/up/..` is inside on paper but leaves through the first link), and a file below a
 * link (`b/x`) would be written through it on extraction. Both are refused.
 */
function checkLinksTogether(entries: Map<string, PackageEntry>): void {
  if (![...entries.values()].some((e) => e.type === 'symlink')) return;
  /** The physical path of `p` inside the app, following the package's links; undefined when it leaves (or loops). */
  const resolve = (p: string, depth: number): string[] | undefined => {
    const at: string[] = [];
    for (const part of p.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        if (at.length === 0) return undefined;
        at.pop();
        continue;
      }
      at.push(part);
      const entry = entries.get(at.join('/'));
      if (entry?.type !== 'symlink') continue;
      if (depth > 40) return undefined;
      const resolved = resolve([...at.slice(0, -1), entry.target ?? ''].join('/'), depth + 1);
      if (resolved === undefined) return undefined;
      at.splice(0, at.length, ...resolved);
    }
    return at;
  };
  for (const entry of entries.values()) {
    if (entry.type === 'symlink' && resolve(entry.path, 0) === undefined) throw invalidArchive(`the link '${entry.path}' points outside the app directory through other links ('${entry.target ?? ''}'), or the links loop`);
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (entries.get(parent)?.type === 'symlink') throw invalidArchive(`the entry '${entry.path}' is inside the link '${parent}': nothing may be written through a link`);
    }
  }
}
