// The broker's catalog (OSBAPI v2 `GET /v2/catalog`): one offering, `p-mysql`, as cf-mysql named it,
// with two plans. The ids never change (the platform correlates offerings and plans by id only).
import { catalogOf, planOf, type Offering } from '../service-base/catalog.js';

export interface PlanInfo {
  id: string;
  name: string;
  description: string;
  /** Quotas the node enforces (docs/services-protocol.md). */
  max_storage_mb: number;
  max_user_connections: number;
}

export const PLANS: readonly PlanInfo[] = [
  {
    id: '2ca0dc48-9a4a-4c0f-8f0f-6e0fcd2f2b11',
    name: 'small',
    description: 'A MySQL database of up to 10 MB, 10 connections per binding',
    max_storage_mb: 10,
    max_user_connections: 10,
  },
  {
    id: '8e9f2f36-1d5c-4d6b-9a77-0a6d0e3a5c22',
    name: 'medium',
    description: 'A MySQL database of up to 100 MB, 40 connections per binding',
    max_storage_mb: 100,
    max_user_connections: 40,
  },
];

export const OFFERING: Offering = {
  id: '3101b971-1044-4816-a7ac-9ded2e028079',
  name: 'p-mysql',
  description: 'MySQL databases on demand',
  tags: ['mysql', 'relational'],
  displayName: 'MySQL',
  documentationUrl: 'https://mariadb.com/kb/en/documentation/',
  // small ⇄ medium: the node moves the database to the other plan's size and connections.
  planUpdateable: true,
  plans: PLANS.map((p) => ({
    ...p,
    bullets: [`${p.max_storage_mb} MB storage`, `${p.max_user_connections} concurrent connections per binding`],
    metadata: { max_storage_mb: p.max_storage_mb, max_user_connections: p.max_user_connections },
  })),
};

export const SERVICE_ID = OFFERING.id;
export const SERVICE_NAME = OFFERING.name;
export const planById = (id: string) => planOf(OFFERING, id);
export const catalog = () => catalogOf(OFFERING);
