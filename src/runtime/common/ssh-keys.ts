// What the ssh proxy, the DEAs' ssh servers and `devbox ssh` agree on about host keys (docs/ssh.md).
import { createHash } from 'node:crypto';

/** SHA-256 of a public key's SSH wire encoding, unpadded base64: OpenSSH's form, and what `cf ssh` compares. */
export function keyFingerprint(publicSsh: Buffer): string {
  return createHash('sha256').update(publicSsh).digest('base64').replace(/=+$/, '');
}
