// Finding the machine's programs devbox runs (mariadbd, bubblewrap, setpriv): on the PATH, then in
// the system directories a user's PATH often lacks (sbin).
import fs from 'node:fs';
import path from 'node:path';

export const SYSTEM_BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The first executable `name` on the PATH, then in `moreDirs`; undefined when there is none. */
export function findExecutable(name: string, moreDirs: readonly string[] = SYSTEM_BIN_DIRS): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...moreDirs]) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}
