// What the gateway names on its mysql-nodes (docs/services-protocol.md): databases and users.
import { createHash } from 'node:crypto';

/** The version a provision asks for when the node announced none. */
export const DEFAULT_VERSION = '10.11';

/**
 * The database name for a new instance, as cf-mysql made it: `cf_` and the GUID with its dashes as
 * underscores. Made once, at provision, then remembered in the record: databases made before this
 * naming keep theirs (`cf_` and 32 hex digits).
 */
export const databaseName = (instanceId: string) => `cf_${instanceId.replace(/-/g, '_')}`;
/** The MySQL user the node creates for a binding: `u` + 15 hex chars of the binding id's sha1. */
export const bindingUsername = (bindingId: string) => `u${createHash('sha1').update(bindingId).digest('hex').slice(0, 15)}`;
