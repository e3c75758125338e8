// Building zip archives for upload tests as the cf CLI sends them (unix modes in the external
// attributes), including hostile ones: paths that escape, links out, devices, bombs. Written byte by
// byte so that nothing sanitises them on the way.
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntry {
  path: string;
  content?: string | Buffer;
  /** file (default), directory or symlink (its content is the target) or a fifo. */
  type?: 'file' | 'directory' | 'symlink' | 'fifo';
  /** Permission bits (default 0644, directories 0755). */
  mode?: number;
  /** Compress (default) or store. */
  deflate?: boolean;
  /** The uncompressed size the headers declare (default: the true one): a lying bomb. */
  declaredSize?: number;
}

const TYPE_BITS = { file: 0o100000, directory: 0o040000, symlink: 0o120000, fifo: 0o010000 };

export function zipArchive(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const name = Buffer.from(entry.path, 'utf8');
    const data = Buffer.from(type === 'symlink' ? (entry.content ?? '') : (entry.content ?? ''));
    const deflate = entry.deflate ?? (type === 'file' && data.length > 0);
    const stored = deflate ? deflateRawSync(data) : data;
    const crc = crc32(data);
    const size = entry.declaredSize ?? data.length;
    const mode = (TYPE_BITS[type] | (entry.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644))) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(deflate ? 8 : 0, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(deflate ? 8 : 0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, stored);
    centrals.push(central, name);
    offset += local.length + name.length + stored.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
