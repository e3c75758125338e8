// Telling a zip archive by its first bytes: what the cf CLI uploads (the controller) and what a user
// may push with -p (the CLI).

/** A zip archive starts with a local file header (`PK\x03\x04`), or is empty (`PK\x05\x06`). */
export const isZipHeader = (head: Buffer): boolean => head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
