// The files `push` uploads: the app directory walked with .cfignore applied, each file with its sha1
// (for resource_matches), mode and size; links kept as links when they stay inside the directory
// (an absolute one is rewritten relative), refused with a clear error when they point out. The
// files the API does not have yet go up as a gzipped tarball streamed from disk.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { Header, Pax } from 'tar';
import { isZipHeader } from '../runtime/common/zip.js';
import { CliError } from './base-command.js';
import { CfIgnore } from './cfignore.js';
import type { FileResource } from './api/resources.js';

export interface AppFile {
  /** '/'-separated, relative to the app directory. */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  /** Permission bits (0o755, 0o644, ...). */
  mode: number;
  /** Files: bytes. */
  size: number;
  mtime: Date;
  /** Files: hex sha1 of the content. */
  sha1?: string;
  /** Links: where the link points, relative to the link's directory. */
  target?: string;
  /** Directories: nothing inside is pushed (the directory is sent so that it exists). */
  empty?: boolean;
}

export interface AppFiles {
  root: string;
  entries: AppFile[];
  /** Paths that are neither files, directories nor links (sockets, fifos, devices): left out. */
  skipped: string[];
  /**
   * When the app path is a zip archive (`-p app.jar`, `.war`, `.zip`), as cf takes one: uploaded as it
   * is (the controller unpacks it), with `entries` empty.
   */
  archive?: { path: string; size: number };
}

/** Whether the file is a zip archive (by its first bytes). */
async function isZipFile(file: string): Promise<boolean> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    return isZipHeader(head.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** How many files are read at once while hashing. */
const HASH_CONCURRENCY = 8;

/**
 * Every entry of the app directory that is pushed, sorted by path (or the archive the app path is). `.cfignore` in the directory and
 * cf's default ignores apply. A link that points outside the directory is an error naming it.
 */
export async function collectAppFiles(root: string): Promise<AppFiles> {
  const absolute = path.resolve(root);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(absolute);
  } catch {
    throw new CliError(`The app path ${absolute} does not exist. Give the app's directory with -p, or 'path' in the manifest.`);
  }
  if (stat.isFile() && (await isZipFile(absolute))) return { root: absolute, entries: [], skipped: [], archive: { path: absolute, size: stat.size } };
  if (!stat.isDirectory()) throw new CliError(`The app path ${absolute} is neither a directory nor a zip archive (.jar, .war, .zip): give the app's directory, or its archive, with -p.`);
  let ignoreText = '';
  try {
    ignoreText = await fs.promises.readFile(path.join(absolute, '.cfignore'), 'utf8');
  } catch {
    // no .cfignore: cf's defaults only
  }
  const ignore = new CfIgnore(ignoreText);
  const entries: AppFile[] = [];
  const skipped: string[] = [];

  const walk = async (dir: string, rel: string): Promise<boolean> => {
    let names: string[];
    try {
      names = (await fs.promises.readdir(dir)).sort();
    } catch (error) {
      throw new CliError(`Cannot read the directory ${dir}: ${(error as Error).message}`);
    }
    let pushedAny = false;
    for (const name of names) {
      const full = path.join(dir, name);
      const relPath = rel ? `${rel}/${name}` : name;
      const info = await fs.promises.lstat(full);
      if (info.isDirectory()) {
        const ignored = ignore.ignores(relPath, true);
        // An ignored directory is looked into only when a `!` pattern may take something back.
        if (ignored && !ignore.hasNegations) continue;
        const entry: AppFile = { path: relPath, type: 'directory', mode: info.mode & 0o777, size: 0, mtime: info.mtime };
        const index = entries.push(entry) - 1;
        const inside = await walk(full, relPath);
        if (ignored && !inside) entries.splice(index, 1);
        else {
          entry.empty = !inside;
          pushedAny = true;
        }
        continue;
      }
      if (ignore.ignores(relPath, false)) continue;
      if (info.isSymbolicLink()) {
        entries.push({ path: relPath, type: 'symlink', mode: 0o777, size: 0, mtime: info.mtime, target: await linkTarget(absolute, full, relPath) });
        pushedAny = true;
      } else if (info.isFile()) {
        entries.push({ path: relPath, type: 'file', mode: info.mode & 0o777, size: info.size, mtime: info.mtime });
        pushedAny = true;
      } else {
        skipped.push(relPath);
      }
    }
    return pushedAny;
  };
  await walk(absolute, '');
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const files = entries.filter((e) => e.type === 'file');
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(HASH_CONCURRENCY, files.length) }, async () => {
      while (next < files.length) {
        const file = files[next++];
        file.sha1 = await sha1File(path.join(absolute, file.path), file.path);
      }
    }),
  );
  return { root: absolute, entries, skipped };
}

/** A link's target as the package keeps it: relative, and inside the app directory, or a CliError. */
async function linkTarget(root: string, full: string, relPath: string): Promise<string> {
  const raw = await fs.promises.readlink(full);
  const resolved = path.resolve(path.dirname(full), raw);
  const inside = path.relative(root, resolved);
  if (inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
    throw new CliError(
      `The link ${relPath} points outside the app directory (to ${raw}). devbox pushes only what is inside ${root}: copy what it points to into the app, or leave the link out in .cfignore.`,
    );
  }
  // Absolute links inside the directory become relative, so they still work where the app runs.
  return path.isAbsolute(raw) ? path.relative(path.dirname(full), resolved).split(path.sep).join('/') || '.' : raw.split(path.sep).join('/');
}

async function sha1File(full: string, relPath: string): Promise<string> {
  const hash = createHash('sha1');
  try {
    for await (const chunk of fs.createReadStream(full)) hash.update(chunk as Buffer);
  } catch (error) {
    throw new CliError(`Cannot read ${relPath}: ${(error as Error).message}. Make it readable, or leave it out in .cfignore.`);
  }
  return hash.digest('hex');
}

/** The files of the app as resource_matches and the upload's `resources` name them. */
export function fileResources(files: AppFiles): FileResource[] {
  return files.entries
    .filter((e) => e.type === 'file')
    .map((e) => ({ path: e.path, checksum: { value: e.sha1 ?? '' }, size_in_bytes: e.size, mode: e.mode.toString(8).padStart(3, '0') }));
}

/**
 * A gzipped tarball of the given entries, read from disk as it is sent. `onBytes` hears how many
 * bytes of file content have been packed so far.
 */
export function tarballStream(root: string, entries: AppFile[], onBytes?: (bytes: number) => void): AsyncIterable<Buffer> {
  let packed = 0;
  async function* tar(): AsyncGenerator<Buffer> {
    for (const entry of entries) {
      const data = {
        path: entry.type === 'directory' ? `${entry.path}/` : entry.path,
        mode: entry.mode,
        size: entry.type === 'file' ? entry.size : 0,
        type: entry.type === 'file' ? 'File' : entry.type === 'directory' ? 'Directory' : 'SymbolicLink',
        linkpath: entry.target,
        mtime: entry.mtime,
        uid: 0,
        gid: 0,
      } as const;
      const header = new Header(data);
      header.encode();
      if (header.needPax) yield new Pax(data).encode();
      yield header.block!;
      if (entry.type !== 'file') continue;
      let read = 0;
      if (entry.size > 0) {
        // Exactly the size announced in the header: a file that grew is cut there (and reported below).
        for await (const chunk of fs.createReadStream(path.join(root, entry.path), { start: 0, end: entry.size - 1 })) {
          const bytes = chunk as Buffer;
          read += bytes.length;
          packed += bytes.length;
          onBytes?.(packed);
          yield bytes;
        }
      }
      if (read !== entry.size) throw new CliError(`${entry.path} changed while it was being pushed (${entry.size} bytes expected, ${read} read). Push again.`);
      const padding = (512 - (entry.size % 512)) % 512;
      if (padding) yield Buffer.alloc(padding);
    }
    yield Buffer.alloc(1024);
  }
  const gzip = createGzip();
  // pipeline destroys the gzip stream with the reason when packing fails, so the reader sees the error.
  pipeline(Readable.from(tar()), gzip, () => undefined);
  return gzip;
}
