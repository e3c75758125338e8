// VCAP_APPLICATION, built once for both places that show it: the DEA start message (what the
// instance gets) and `GET /v3/apps/:guid/env` (what `cf env` shows). Cloud Controller's fields.
import type { AppRow, ProcessRow } from '../repositories/apps.js';
import type { Db } from '../repositories/query.js';
import { appUris } from '../repositories/routes.js';
import { getSpaceWithOrganization, type OrganizationRow, type SpaceRow } from '../repositories/spaces.js';

export const FDS_LIMIT = 16384;

export interface VcapApplication {
  application_id: string;
  application_name: string;
  application_uris: string[];
  application_version: string;
  cf_api: string;
  limits: { mem: number; disk: number; fds: number };
  name: string;
  organization_id: string;
  organization_name: string;
  space_id: string;
  space_name: string;
  process_id: string;
  process_type: string;
  uris: string[];
  users: null;
  version: string;
}

export function vcapApplication(input: { app: AppRow; process: ProcessRow; space: SpaceRow; organization: OrganizationRow; uris: string[]; cfApi: string }): VcapApplication {
  const { app, process, space, organization, uris } = input;
  return {
    application_id: app.guid,
    application_name: app.name,
    application_uris: uris,
    application_version: process.version,
    cf_api: input.cfApi,
    limits: { mem: process.memory_in_mb, disk: process.disk_in_mb, fds: FDS_LIMIT },
    name: app.name,
    organization_id: organization.guid,
    organization_name: organization.name,
    space_id: space.guid,
    space_name: space.name,
    process_id: process.guid,
    process_type: process.type,
    uris,
    users: null,
    version: process.version,
  };
}

/** The VCAP_APPLICATION of an app's process as it runs now: its space, organization and routes read from the database. */
export async function loadVcapApplication(db: Db, app: AppRow, process: ProcessRow, cfApi: string): Promise<VcapApplication> {
  const { space, organization } = await getSpaceWithOrganization(db, app.space_guid);
  return vcapApplication({ app, process, space, organization, uris: await appUris(db, app.guid, process.type), cfApi });
}
