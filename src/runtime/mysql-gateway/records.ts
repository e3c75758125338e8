// What the gateway records of a MySQL binding besides the broker's own fields (service-base/records.ts),
// in $DEVBOX_HOME/mysql-gateway/records.json. An instance's `name` is its database: `cf_<instance
// GUID, dashes as underscores>`, or `cf_<32 hex digits>` for instances made before that naming.
import type { BindingRecord } from '../service-base/records.js';

export interface MysqlBindingRecord extends BindingRecord {
  /** The database (absent in records made before it was kept: the instance's, or the credentials' `name`). */
  name?: string;
  /** The binding's MySQL user. */
  username: string;
}
