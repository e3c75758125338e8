// Deployments: the only SQL that reads or writes them.
import type { Database } from '../db/schema.js';
import type { ListMessage } from '../messages/list.js';
import { filtered, found, page, type Db } from './query.js';

export type DeploymentRow = Database['deployments'];

export const DEPLOYMENT_FILTERS = ['app_guids', 'states', 'status_reasons', 'status_values', 'guids'] as const;

export const findDeployment = (db: Db, guid: string) => db.selectFrom('deployments').selectAll().where('guid', '=', guid).executeTakeFirst();

export const getDeployment = async (db: Db, guid: string): Promise<DeploymentRow> => found(await findDeployment(db, guid), 'Deployment');

export const listDeployments = (db: Db, message: ListMessage<(typeof DEPLOYMENT_FILTERS)[number]>) =>
  page(
    filtered(db.selectFrom('deployments').selectAll(), message.filters, { app_guids: 'app_guid', states: 'state', status_reasons: 'status_reason', status_values: 'status_value', guids: 'guid' }),
    message,
  );

export const insertDeployment = (db: Db, row: DeploymentRow) => db.insertInto('deployments').values(row).execute();

/** The app's ACTIVE deployment (at most one: a new one supersedes it). */
export const activeDeploymentOfApp = (db: Db, appGuid: string) =>
  db.selectFrom('deployments').selectAll().where('app_guid', '=', appGuid).where('status_value', '=', 'ACTIVE').orderBy('created_at', 'desc').executeTakeFirst();

export const activeDeployments = (db: Db) => db.selectFrom('deployments').selectAll().where('status_value', '=', 'ACTIVE').orderBy('created_at').execute();

/** Changes an ACTIVE deployment (a FINALIZED one changes no more); whether it did. */
export async function updateActiveDeployment(db: Db, guid: string, changes: Partial<Omit<DeploymentRow, 'guid' | 'app_guid' | 'created_at'>>): Promise<boolean> {
  const result = await db.updateTable('deployments').set(changes).where('guid', '=', guid).where('status_value', '=', 'ACTIVE').executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export const deleteDeploymentsOfApp = (db: Db, appGuid: string) => db.deleteFrom('deployments').where('app_guid', '=', appGuid).execute();
