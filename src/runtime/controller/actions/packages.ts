// Packages: an app's files, and the one owner of the package state machine:
//   AWAITING_UPLOAD → READY (uploaded)
// A refused upload leaves the package AWAITING_UPLOAD, ready for a good one; devbox never sets
// FAILED (nothing processes a package after its upload, so nothing can fail later).
//
// The CLI asks `POST /v3/resource_matches` which files the blobstore has (by sha1 and size), then
// uploads the others as a gzipped tarball together with the list of matched ones (`POST
// /v3/packages/:guid/upload`, multipart: `resources` then `bits`). Entries that would escape the
// app directory are refused. Stagers download the package as one tarball.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { ApiError, unprocessable } from '../errors.js';
import { newGuid, now, type ControllerContext, type RequestContext } from '../context.js';
import { safeEntryPath, safeLinkTarget, SizeLimitError, type PackageEntry } from '../blobstore.js';
import { readMultipart, type Part } from '../http/multipart.js';
import { resourcesList, type PackageCreateMessage, type Resource } from '../messages/packages.js';
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
export async function matchResources(ctx: Context, resources: Resource[]): Promise<Resource[]> {
  const stored = await ctx.blobstore.present(resources.map((r) => ({ sha1: r.checksum.value, size: r.size_in_bytes })));
  return resources.filter((r) => stored.has(r.checksum.value));
}

const alreadyUploaded = (state: string) => unprocessable(`Package has already been uploaded (state ${state}); create a new package`);

/** Reads the upload (the request's multipart body) into the blobstore: AWAITING_UPLOAD → READY. */
export async function uploadPackage(ctx: RequestContext, pkg: PackageRow, body: IncomingMessage): Promise<PackageRow> {
  if (pkg.state !== 'AWAITING_UPLOAD') throw alreadyUploaded(pkg.state);
  const files = await readUpload(ctx, body);
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

const tooLarge = (ctx: Context) => new ApiError('RequestEntityTooLarge', `The app package is larger than the limit of ${Math.round(ctx.limits.maxPackageBytes / 1024 / 1024)} MB`);

/** Reads the multipart upload: the matched `resources` (in the blobstore already) and the `bits` tarball. The package's files, sorted by path. */
async function readUpload(ctx: Context, body: IncomingMessage): Promise<PackageEntry[]> {
  const declared = Number(body.headers['content-length'] ?? 0);
  if (declared > ctx.limits.maxPackageBytes) throw tooLarge(ctx);
  const entries = new Map<string, PackageEntry>();
  const budget = { bytes: ctx.limits.maxPackageBytes };
  let matched: Resource[] = [];
  let received = 0;
  body.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > ctx.limits.maxPackageBytes) body.destroy(tooLarge(ctx));
  });
  let sawBits = false;
  try {
    await readMultipart(body, async (part) => {
      if (part.name === 'resources') {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of part.stream) {
          size += (chunk as Buffer).length;
          if (size > 16 * 1024 * 1024) throw new ApiError('RequestEntityTooLarge', 'The resources list is larger than 16 MB');
          chunks.push(chunk as Buffer);
        }
        try {
          matched = resourcesList(JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]'));
        } catch (error) {
          if (error instanceof ApiError) throw error;
          throw new ApiError('MessageParseError', 'Request invalid due to parse error: the resources part is not JSON');
        }
      } else if (part.name === 'bits') {
        sawBits = true;
        await readBits(ctx, part, entries, budget);
      } else {
        part.stream.resume();
        await new Promise((resolve) => part.stream.on('end', resolve));
      }
    });
  } catch (error) {
    if (received > ctx.limits.maxPackageBytes) throw tooLarge(ctx);
    throw error;
  }
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

/** Reads the uploaded tarball into the blobstore, refusing entries that escape the app directory. */
async function readBits(ctx: Context, part: Part, entries: Map<string, PackageEntry>, budget: { bytes: number }): Promise<void> {
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
  part.stream.on('error', (error) => fail(error));
  part.stream.pipe(gunzip).pipe(parser);
  await finished;
  // The rest of a refused upload is read and dropped, so the request completes and gets its answer.
  if (failure) {
    part.stream.unpipe();
    part.stream.resume();
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
