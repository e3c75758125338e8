// The host is the stack (`stack: host`): buildpacks and apps use the machine's own tools.
import path from 'node:path';

/** PATH with the directory of the node running devbox appended (buildpacks and apps need node). */
export function withNodeOnPath(current: string | undefined): string {
  const nodeDir = path.dirname(process.execPath);
  const parts = (current || '/usr/local/bin:/usr/bin:/bin').split(':');
  return parts.includes(nodeDir) ? parts.join(':') : [...parts, nodeDir].join(':');
}
