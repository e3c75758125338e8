// Tarballs in and out of the DEA: packages and droplets are gzipped tarballs. Extraction refuses
// entries that would land outside the target (node-tar strips absolute paths and refuses `..`) and
// anything that is not a file, directory or link.
import fs from 'node:fs';
import { c as createTar, x as extractTar } from 'tar';

export interface ExtractOptions {
  /** Mode bits removed from every extracted entry (e.g. 0o027: nothing for others). */
  umask?: number;
  /** Who owns every extracted entry (a root DEA extracting for a container's user). */
  owner?: { uid: number; gid: number };
}

const ALLOWED = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

export async function extractTarball(file: string, dir: string, { umask, owner }: ExtractOptions = {}): Promise<void> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  await extractTar({
    file,
    cwd: dir,
    strict: true,
    preservePaths: false,
    preserveOwner: false,
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    filter: (_path, entry) => {
      if (!('type' in entry) || !ALLOWED.has(String(entry.type))) return false;
      // The entry's own mode is what tar creates the file with (the process umask aside).
      if (umask !== undefined && typeof entry.mode === 'number') entry.mode &= ~umask;
      return true;
    },
  });
}

/**
 * Writes a gzipped tarball of `entries` (relative to `cwd`) to `file`: files, directories and links
 * only. A FIFO, socket or device a staging left is not taken (a droplet has no use for one, and
 * node-tar, given a FIFO, at times never finishes the archive).
 */
export async function createTarball(cwd: string, entries: string[], file: string): Promise<void> {
  const takes = (stat: fs.Stats) => stat.isFile() || stat.isDirectory() || stat.isSymbolicLink();
  await createTar({ gzip: true, file, cwd, mode: 0o600, filter: (_path, stat) => !(stat instanceof fs.Stats) || takes(stat) }, entries);
}
