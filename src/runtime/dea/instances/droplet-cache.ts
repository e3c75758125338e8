// Droplets downloaded once per DEA, kept by sha1 (the start message's checksum), the least recently
// used dropped beyond a count. Concurrent starts of one droplet share one download.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { downloadToFile } from '../transfer.js';
import type { TokenSource } from '../uaa-client.js';

const SHA1 = /^[0-9a-f]{40}$/;

export interface CachedDroplet {
  file: string;
  sha1: string;
  size: number;
  /** False when it came from the cache. */
  downloaded: boolean;
}

export class DropletCache {
  private readonly inflight = new Map<string, Promise<CachedDroplet>>();
  hits = 0;
  misses = 0;

  constructor(
    private readonly dir: string,
    private readonly tmpDir: string,
    private readonly auth: TokenSource,
    private readonly keep: number,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  }

  async get(uri: string, sha1?: string | null): Promise<CachedDroplet> {
    const expected = sha1 && SHA1.test(sha1) ? sha1 : undefined;
    if (expected) {
      const file = this.fileFor(expected);
      try {
        const stat = fs.statSync(file);
        const now = new Date();
        fs.utimesSync(file, now, now);
        this.hits += 1;
        return { file, sha1: expected, size: stat.size, downloaded: false };
      } catch {
        // not cached
      }
    }
    const key = expected ?? uri;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.download(uri, expected).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private fileFor(sha1: string): string {
    return path.join(this.dir, `${sha1}.tgz`);
  }

  private async download(uri: string, expected?: string): Promise<CachedDroplet> {
    this.misses += 1;
    const tmp = path.join(this.tmpDir, `droplet-${randomBytes(6).toString('hex')}.tgz`);
    try {
      const { size, sha1 } = await downloadToFile(uri, tmp, { auth: this.auth });
      if (expected && sha1 !== expected) throw new Error(`the droplet's checksum is ${sha1}, expected ${expected}`);
      const file = this.fileFor(sha1);
      fs.renameSync(tmp, file);
      this.prune(file);
      return { file, sha1, size, downloaded: true };
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  private prune(keepFile: string): void {
    const files = fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.tgz'))
      .map((f) => path.join(this.dir, f))
      .map((file) => ({ file, mtime: fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? 0 }))
      .sort((a, b) => b.mtime - a.mtime);
    for (const { file } of files.slice(this.keep)) if (file !== keepFile) fs.rmSync(file, { force: true });
  }

  stats() {
    let count = 0;
    let bytes = 0;
    for (const f of fs.readdirSync(this.dir)) {
      const stat = fs.statSync(path.join(this.dir, f), { throwIfNoEntry: false });
      if (stat) {
        count += 1;
        bytes += stat.size;
      }
    }
    return { droplets: count, bytes, hits: this.hits, misses: this.misses };
  }
}
