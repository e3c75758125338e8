// The broker's catalog (OSBAPI v2 `GET /v2/catalog`): one offering, `p-redis`, as Pivotal's Redis
// tile (and PCF Dev) named it, with its `shared-vm` plan. The ids never change (the platform
// correlates offerings and plans by id only).
import { catalogOf, planOf, type Offering } from '../service-base/catalog.js';

export const OFFERING: Offering = {
  id: '0b9c5f2e-7d41-4c8a-9e36-5a1f0d7b2c64',
  name: 'p-redis',
  description: 'Redis service to provide a key-value store',
  tags: ['pivotal', 'redis'],
  displayName: 'Redis',
  documentationUrl: 'https://redis.io/docs/',
  // One plan: nothing to change to.
  planUpdateable: false,
  plans: [
    {
      id: 'c4e1a8d0-2f6b-4b5e-8a97-3d0f6e91b5a2',
      name: 'shared-vm',
      description: 'This plan provides a single Redis process on a shared VM, which is suitable for development and testing workloads',
      bullets: ['A redis-server of its own', 'Persistent (RDB snapshots and an append-only file)', 'A password of its own'],
    },
  ],
};

export const SERVICE_ID = OFFERING.id;
export const SERVICE_NAME = OFFERING.name;
export const PLANS = OFFERING.plans;
export const planById = (id: string) => planOf(OFFERING, id);
export const catalog = () => catalogOf(OFFERING);
