// Packages: an app's files. The CLI asks `POST /v3/resource_matches` which files the blobstore has
// (by sha1 and size), then uploads the others as a gzipped tarball together with the list of matched
// ones (`POST /v3/packages/:guid/upload`, multipart: `resources` then `bits`). Entries that would
// escape the app directory are refused. Stagers download the package as one tarball.
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { ApiError, notFound } from '../api/errors.js';
import { readMultipart, type Part } from '../api/multipart.js';
import type { Routes } from '../api/http.js';
import { filterList, listParams, paginated } from '../api/pagination.js';
import { safeEntryPath, safeLinkTarget, SizeLimitError, type PackageEntry } from '../blobstore.js';
import type { Database } from '../db/schema.js';
import { newGuid, now, parseJson, type RequestContext } from '../context.js';
import { findApp } from './apps.js';
import { recordEvent } from './audit-events.js';
import { findSpace } from './organizations.js';
import { page } from './query.js';
import { allowOnly, asObject, relationshipGuid } from './validate.js';

type PackageRow = Database['packages'];

/** A resource as v3's resource_matches and upload name it. */
interface Resource {
  path?: string;
  checksum: { value: string };
  size_in_bytes: number;
  mode?: string;
}

export function presentPackage(row: PackageRow, ctx: RequestContext) {
  const self = `${ctx.urls.api}/v3/packages/${row.guid}`;
  return {
    guid: row.guid,
    type: row.type,
    data: { checksum: row.checksum ? { type: 'sha256', value: row.checksum } : { type: 'sha256', value: null }, error: row.error },
    state: row.state,
    created_at: row.created_at,
    updated_at: row.updated_at,
    relationships: { app: { data: { guid: row.app_guid } } },
    metadata: { labels: {}, annotations: {} },
    links: {
      self: { href: self },
      upload: { href: `${self}/upload`, method: 'POST' },
      download: { href: `${self}/download` },
      app: { href: `${ctx.urls.api}/v3/apps/${row.app_guid}` },
    },
  };
}

export async function findPackage(ctx: RequestContext, guid: string): Promise<PackageRow> {
  const row = await ctx.db.selectFrom('packages').selectAll().where('guid', '=', guid).executeTakeFirst();
  if (!row) throw notFound('Package');
  return row;
}

function parseResources(value: unknown): Resource[] {
  if (!Array.isArray(value)) throw new ApiError('UnprocessableEntity', 'Resources must be an array');
  return value.map((raw) => {
    const r = asObject(raw, 'a resource');
    const checksum = r.checksum as { value?: unknown } | undefined;
    // v2's shape (sha1/size/fn) is accepted too, as Cloud Controller does.
    const sha1 = typeof checksum?.value === 'string' ? checksum.value : r.sha1;
    const size = r.size_in_bytes ?? r.size;
    if (typeof sha1 !== 'string' || !/^[0-9a-f]{40}$/.test(sha1)) throw new ApiError('UnprocessableEntity', 'Resources must have a sha1 checksum value');
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) throw new ApiError('UnprocessableEntity', 'Resources must have a size_in_bytes');
    const path = r.path ?? r.fn;
    if (path !== undefined && typeof path !== 'string') throw new ApiError('UnprocessableEntity', 'Resource paths must be strings');
    const mode = r.mode;
    if (mode !== undefined && (typeof mode !== 'string' || !/^[0-7]{3,4}$/.test(mode))) throw new ApiError('UnprocessableEntity', 'Resource modes must be octal strings such as "644"');
    return { path: path as string | undefined, checksum: { value: sha1 }, size_in_bytes: size, mode: mode as string | undefined };
  });
}

function invalidArchive(detail: string): ApiError {
  return new ApiError('UnprocessableEntity', `The uploaded package is invalid: ${detail}`);
}

/** Reads the uploaded tarball into the blobstore, refusing entries that escape the app directory. */
async function readBits(ctx: RequestContext, part: Part, entries: Map<string, PackageEntry>, budget: { bytes: number }): Promise<void> {
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

const tooLarge = (ctx: RequestContext) => new ApiError('RequestEntityTooLarge', `The app package is larger than the limit of ${Math.round(ctx.limits.maxPackageBytes / 1024 / 1024)} MB`);

async function upload(ctx: RequestContext, pkg: PackageRow, req: Parameters<Parameters<Routes<RequestContext>['post']>[1]>[0]): Promise<PackageRow> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > ctx.limits.maxPackageBytes) throw tooLarge(ctx);
  const entries = new Map<string, PackageEntry>();
  const budget = { bytes: ctx.limits.maxPackageBytes };
  let matched: Resource[] = [];
  let received = 0;
  req.raw.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > ctx.limits.maxPackageBytes) req.raw.destroy(tooLarge(ctx));
  });
  let sawBits = false;
  try {
    await readMultipart(req.raw, async (part) => {
      if (part.name === 'resources') {
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of part.stream) {
          size += (chunk as Buffer).length;
          if (size > 16 * 1024 * 1024) throw new ApiError('RequestEntityTooLarge', 'The resources list is larger than 16 MB');
          chunks.push(chunk as Buffer);
        }
        try {
          matched = parseResources(JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]'));
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
      throw new ApiError('UnprocessableEntity', `The resource '${path}' (sha1 ${resource.checksum.value}) is not in the blobstore: upload it in the bits`);
    }
    budget.bytes -= resource.size_in_bytes;
    if (budget.bytes < 0) throw tooLarge(ctx);
    entries.set(path, { path, type: 'file', mode: (resource.mode ? parseInt(resource.mode, 8) : 0o644) | 0o600, sha1: resource.checksum.value, size: resource.size_in_bytes });
  }
  checkLinksTogether(entries);
  if (!sawBits && matched.length === 0) throw new ApiError('UnprocessableEntity', 'The upload has neither bits nor resources: nothing to package');
  const files = [...entries.values()].sort((a, b) => a.path.localeCompare(b.path));
  const manifest = JSON.stringify(files);
  const bytes = files.reduce((sum, f) => sum + (f.size ?? 0), 0);
  const updated: PackageRow = { ...pkg, state: 'READY', files: manifest, bytes, checksum: createHash('sha256').update(manifest).digest('hex'), error: null, updated_at: now() };
  await ctx.db.updateTable('packages').set({ state: updated.state, files: updated.files, bytes: updated.bytes, checksum: updated.checksum, error: null, updated_at: updated.updated_at }).where('guid', '=', pkg.guid).execute();
  return updated;
}

export function packageRoutes(routes: Routes<RequestContext>): void {
  routes.post('/v3/resource_matches', async (req, ctx) => {
    const body = asObject(req.body);
    allowOnly(body, ['resources']);
    const resources = parseResources(body.resources);
    if (resources.length > 100_000) throw new ApiError('UnprocessableEntity', 'Resources must list at most 100000 files');
    const stored = await ctx.blobstore.present(resources.map((r) => ({ sha1: r.checksum.value, size: r.size_in_bytes })));
    const known = resources.filter((r) => stored.has(r.checksum.value));
    return { status: 201, body: { resources: known } };
  });

  routes.get('/v3/packages', async (req, ctx) => {
    const params = listParams(req.query, ['created_at', 'updated_at']);
    let q = ctx.db.selectFrom('packages').selectAll();
    const apps = filterList(req.query, 'app_guids');
    const states = filterList(req.query, 'states');
    if (apps) q = q.where('app_guid', 'in', apps.length ? apps : ['']);
    if (states) q = q.where('state', 'in', states.length ? states : ['']);
    const { total, rows } = await page(q, params);
    return { body: paginated(ctx.urls.api, '/v3/packages', req.query, params, total, rows.map((r) => presentPackage(r, ctx))) };
  });

  routes.get('/v3/apps/:guid/packages', async (req, ctx) => {
    const app = await findApp(ctx, req.params.guid);
    const params = listParams(req.query, ['created_at', 'updated_at']);
    const { total, rows } = await page(ctx.db.selectFrom('packages').selectAll().where('app_guid', '=', app.guid), params);
    return { body: paginated(ctx.urls.api, `/v3/apps/${app.guid}/packages`, req.query, params, total, rows.map((r) => presentPackage(r, ctx))) };
  });

  routes.get('/v3/packages/:guid', async (req, ctx) => ({ body: presentPackage(await findPackage(ctx, req.params.guid), ctx) }));

  routes.post('/v3/packages', async (req, ctx) => {
    const body = asObject(req.body);
    allowOnly(body, ['type', 'relationships', 'metadata', 'data']);
    if (body.type !== 'bits') throw new ApiError('UnprocessableEntity', "Type must be 'bits'");
    const app = await ctx.db.selectFrom('apps').selectAll().where('guid', '=', relationshipGuid(body, 'app')).executeTakeFirst();
    if (!app) throw new ApiError('UnprocessableEntity', 'App must exist');
    const at = now();
    const row: PackageRow = { guid: newGuid(), app_guid: app.guid, type: 'bits', state: 'AWAITING_UPLOAD', checksum: null, files: null, bytes: 0, error: null, created_at: at, updated_at: at };
    await ctx.db.insertInto('packages').values(row).execute();
    const space = await findSpace(ctx, app.space_guid);
    await recordEvent(ctx.db, { type: 'audit.app.package.create', actor: ctx.actor, target: { guid: app.guid, type: 'app', name: app.name }, spaceGuid: app.space_guid, organizationGuid: space.organization_guid, data: { package_guid: row.guid } });
    return { status: 201, body: presentPackage(row, ctx) };
  });

  routes.add(
    'POST',
    '/v3/packages/:guid/upload',
    async (req, ctx) => {
      const pkg = await findPackage(ctx, req.params.guid);
      if (pkg.state !== 'AWAITING_UPLOAD') throw new ApiError('UnprocessableEntity', `Package has already been uploaded (state ${pkg.state}); create a new package`);
      const updated = await upload(ctx, pkg, req);
      const app = await findApp(ctx, pkg.app_guid);
      const space = await findSpace(ctx, app.space_guid);
      await recordEvent(ctx.db, { type: 'audit.app.package.upload', actor: ctx.actor, target: { guid: app.guid, type: 'app', name: app.name }, spaceGuid: app.space_guid, organizationGuid: space.organization_guid, data: { package_guid: pkg.guid, bytes: updated.bytes } });
      return { body: presentPackage(updated, ctx) };
    },
    { rawBody: true },
  );

  routes.add('GET', '/v3/packages/:guid/download', async (req, ctx) => {
    const pkg = await findPackage(ctx, req.params.guid);
    if (pkg.state !== 'READY') throw new ApiError('UnprocessableEntity', `Package is not ready to download (state ${pkg.state})`);
    return { status: 200, headers: { 'Content-Type': 'application/gzip' }, stream: ctx.blobstore.tarball(parseJson<PackageEntry[]>(pkg.files, [])) };
  });
}
