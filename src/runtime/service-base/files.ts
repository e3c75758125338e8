// Small file helpers of the nodes.
import fs from 'node:fs';

/** The last `lines` lines of a server's log, for an error that says why it did not start. */
export function lastLines(file: string, lines = 5): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * `file` and `args` run so that what the program creates is owner-only (umask 077): a server's data
 * files hold the apps' data. `exec` keeps the pid: the child is the program itself.
 */
export const ownerOnly = (file: string, args: string[]): [string, string[]] => ['/bin/sh', ['-c', 'umask 077; exec "$0" "$@"', file, ...args]];
