// Schema migrations, run in order at every controller start (Kysely's Migrator records what ran).
// Never edit a migration that has shipped: add a new one.
import { sql, type Kysely, type Migration } from 'kysely';

// Column helpers that mean the same on SQLite and MySQL.
const guid = 'varchar(36)';
const name = 'varchar(255)';
const time = 'varchar(32)';

/** DROP INDEX: MySQL's names the table (`… ON t`), SQLite's refuses it (a syntax error, which changes nothing). */
async function dropIndex(db: Kysely<unknown>, index: string, table: string): Promise<void> {
  try {
    await db.schema.dropIndex(index).on(table).execute();
  } catch {
    await db.schema.dropIndex(index).execute();
  }
}

export const migrations: Record<string, Migration> = {
  '0001_core': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('organizations')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('name', name, (c) => c.notNull().unique())
        .addColumn('suspended', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('spaces')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('name', name, (c) => c.notNull())
        .addColumn('organization_guid', guid, (c) => c.notNull().references('organizations.guid'))
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addUniqueConstraint('spaces_org_name', ['organization_guid', 'name'])
        .execute();
      await db.schema
        .createTable('domains')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('name', name, (c) => c.notNull().unique())
        .addColumn('internal', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('organization_guid', guid)
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('apps')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('name', name, (c) => c.notNull())
        .addColumn('space_guid', guid, (c) => c.notNull().references('spaces.guid'))
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('lifecycle_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('buildpacks', 'text', (c) => c.notNull())
        .addColumn('stack', name, (c) => c.notNull())
        .addColumn('environment_variables', 'text', (c) => c.notNull())
        .addColumn('droplet_guid', guid)
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addUniqueConstraint('apps_space_name', ['space_guid', 'name'])
        .execute();
      await db.schema
        .createTable('processes')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('app_guid', guid, (c) => c.notNull().references('apps.guid').onDelete('cascade'))
        .addColumn('type', name, (c) => c.notNull())
        .addColumn('command', 'text')
        .addColumn('instances', 'integer', (c) => c.notNull())
        .addColumn('memory_in_mb', 'integer', (c) => c.notNull())
        .addColumn('disk_in_mb', 'integer', (c) => c.notNull())
        .addColumn('log_rate_limit_in_bytes_per_second', 'integer', (c) => c.notNull())
        .addColumn('health_check_type', 'varchar(16)', (c) => c.notNull())
        .addColumn('health_check_endpoint', 'text')
        .addColumn('health_check_timeout', 'integer')
        .addColumn('health_check_invocation_timeout', 'integer')
        .addColumn('version', guid, (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addUniqueConstraint('processes_app_type', ['app_guid', 'type'])
        .execute();
      await db.schema
        .createTable('routes')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('host', name, (c) => c.notNull())
        .addColumn('path', name, (c) => c.notNull())
        .addColumn('domain_guid', guid, (c) => c.notNull().references('domains.guid'))
        .addColumn('space_guid', guid, (c) => c.notNull().references('spaces.guid'))
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addUniqueConstraint('routes_host_domain_path', ['host', 'domain_guid', 'path'])
        .execute();
      await db.schema
        .createTable('route_destinations')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('route_guid', guid, (c) => c.notNull().references('routes.guid').onDelete('cascade'))
        .addColumn('app_guid', guid, (c) => c.notNull().references('apps.guid').onDelete('cascade'))
        .addColumn('process_type', name, (c) => c.notNull())
        .addColumn('port', 'integer')
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addUniqueConstraint('route_destinations_unique', ['route_guid', 'app_guid', 'process_type'])
        .execute();
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('guid', guid, (c) => c.notNull().unique())
        .addColumn('type', name, (c) => c.notNull())
        .addColumn('actor_guid', name, (c) => c.notNull())
        .addColumn('actor_type', 'varchar(32)', (c) => c.notNull())
        .addColumn('actor_name', name, (c) => c.notNull())
        .addColumn('target_guid', guid, (c) => c.notNull())
        .addColumn('target_type', 'varchar(64)', (c) => c.notNull())
        .addColumn('target_name', name, (c) => c.notNull())
        .addColumn('space_guid', guid)
        .addColumn('organization_guid', guid)
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_target').on('audit_events').column('target_guid').execute();
      await db.schema
        .createTable('jobs')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('operation', name, (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('resource_guid', guid)
        .addColumn('resource_type', 'varchar(64)')
        .addColumn('errors', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['jobs', 'audit_events', 'route_destinations', 'routes', 'processes', 'apps', 'domains', 'spaces', 'organizations']) {
        await sql`drop table ${sql.table(table)}`.execute(db);
      }
    },
  },
  '0002_packages': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('packages')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('app_guid', guid, (c) => c.notNull().references('apps.guid').onDelete('cascade'))
        .addColumn('type', 'varchar(16)', (c) => c.notNull())
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('checksum', 'varchar(64)')
        // mediumtext on MySQL: a package of many files lists more than text's 64 KiB.
        .addColumn('files', sql`mediumtext`)
        .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('error', 'text')
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('packages_app').on('packages').column('app_guid').execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table packages`.execute(db);
    },
  },
  '0003_builds_droplets': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('droplets')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('app_guid', guid, (c) => c.notNull().references('apps.guid').onDelete('cascade'))
        .addColumn('package_guid', guid)
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('process_types', 'text', (c) => c.notNull())
        .addColumn('buildpacks', 'text', (c) => c.notNull())
        .addColumn('stack', name, (c) => c.notNull())
        .addColumn('sha1', 'varchar(40)')
        .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('droplets_app').on('droplets').column('app_guid').execute();
      await db.schema
        .createTable('builds')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('app_guid', guid, (c) => c.notNull().references('apps.guid').onDelete('cascade'))
        .addColumn('package_guid', guid, (c) => c.notNull())
        .addColumn('droplet_guid', guid)
        .addColumn('state', 'varchar(32)', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('buildpacks', 'text', (c) => c.notNull())
        .addColumn('staging_memory_in_mb', 'integer', (c) => c.notNull())
        .addColumn('staging_disk_in_mb', 'integer', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('builds_app').on('builds').column('app_guid').execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table builds`.execute(db);
      await sql`drop table droplets`.execute(db);
    },
  },
  '0004_services': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('service_brokers')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('name', name, (c) => c.notNull().unique())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('username', name, (c) => c.notNull())
        .addColumn('password', name, (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('service_offerings')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('broker_guid', guid, (c) => c.notNull().references('service_brokers.guid').onDelete('cascade'))
        .addColumn('broker_id', name, (c) => c.notNull())
        .addColumn('name', name, (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('catalog', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addUniqueConstraint('service_offerings_broker_id', ['broker_guid', 'broker_id'])
        .execute();
      await db.schema
        .createTable('service_plans')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('offering_guid', guid, (c) => c.notNull().references('service_offerings.guid').onDelete('cascade'))
        .addColumn('broker_id', name, (c) => c.notNull())
        .addColumn('name', name, (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull())
        .addColumn('catalog', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addUniqueConstraint('service_plans_offering_id', ['offering_guid', 'broker_id'])
        .execute();
      await db.schema
        .createTable('service_instances')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('name', name, (c) => c.notNull())
        .addColumn('type', 'varchar(16)', (c) => c.notNull())
        .addColumn('space_guid', guid, (c) => c.notNull().references('spaces.guid'))
        .addColumn('plan_guid', guid, (c) => c.references('service_plans.guid'))
        .addColumn('credentials', 'text')
        .addColumn('tags', 'text', (c) => c.notNull())
        .addColumn('syslog_drain_url', 'text')
        .addColumn('route_service_url', 'text')
        .addColumn('dashboard_url', 'text')
        .addColumn('last_operation', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addUniqueConstraint('service_instances_space_name', ['space_guid', 'name'])
        .execute();
      await db.schema
        .createTable('service_bindings')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('type', 'varchar(8)', (c) => c.notNull())
        .addColumn('name', name)
        .addColumn('instance_guid', guid, (c) => c.notNull().references('service_instances.guid'))
        .addColumn('app_guid', guid, (c) => c.references('apps.guid').onDelete('cascade'))
        .addColumn('credentials', 'text', (c) => c.notNull())
        .addColumn('syslog_drain_url', 'text')
        .addColumn('last_operation', 'text', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('service_bindings_instance').on('service_bindings').column('instance_guid').execute();
      await db.schema.createIndex('service_bindings_app').on('service_bindings').column('app_guid').execute();
    },
    async down(db: Kysely<unknown>) {
      for (const table of ['service_bindings', 'service_instances', 'service_plans', 'service_offerings', 'service_brokers']) {
        await sql`drop table ${sql.table(table)}`.execute(db);
      }
    },
  },
  '0005_blobs': {
    // App files and droplets in the database when it is shared (MySQL): several controllers, on
    // several machines, then serve the same bits. SQLite boxes keep them in blobs/ only.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('blobs')
        .addColumn('sha1', 'varchar(40)', (c) => c.primaryKey())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('chunks', 'integer', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('blob_chunks')
        .addColumn('sha1', 'varchar(40)', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('data', sql`longblob`, (c) => c.notNull())
        .addPrimaryKeyConstraint('blob_chunks_pk', ['sha1', 'seq'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table blob_chunks`.execute(db);
      await sql`drop table blobs`.execute(db);
    },
  },
  '0006_droplet_staging_key': {
    // What a droplet was staged from (runner/staging-key.ts): a new package with the same files,
    // buildpacks and environment reuses it instead of staging again.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('droplets').addColumn('staging_key', 'varchar(64)').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('droplets').dropColumn('staging_key').execute();
    },
  },
  '0007_users_roles': {
    // Users (uaa's, recorded by id the first time a token shows them, and the admin at seeding) and
    // their roles in organizations and spaces (GET/POST /v3/roles, /v3/users).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('guid', name, (c) => c.primaryKey())
        .addColumn('username', name)
        .addColumn('origin', name)
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('users_username').on('users').columns(['username', 'origin']).execute();
      await db.schema
        .createTable('roles')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('type', 'varchar(32)', (c) => c.notNull())
        .addColumn('user_guid', name, (c) => c.notNull().references('users.guid').onDelete('cascade'))
        .addColumn('organization_guid', guid, (c) => c.references('organizations.guid').onDelete('cascade'))
        .addColumn('space_guid', guid, (c) => c.references('spaces.guid').onDelete('cascade'))
        .addColumn('scope_guid', guid, (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addUniqueConstraint('roles_user_type_scope', ['user_guid', 'type', 'scope_guid'])
        .execute();
      await db.schema.createIndex('roles_scope').on('roles').column('scope_guid').execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table roles`.execute(db);
      await sql`drop table users`.execute(db);
    },
  },
  '0008_web_process_guid': {
    // A web process's guid is its app's, as in Cloud Controller: the DEAs name instances by process
    // guid (docs/dea-protocol.md), and a web instance is then named by its app's guid as before.
    async up(db: Kysely<unknown>) {
      await sql`update processes set guid = app_guid where type = 'web' and guid <> app_guid`.execute(db);
    },
    async down() {
      // The old guids are gone; the new ones serve as well.
    },
  },
  '0009_tasks': {
    // Tasks (CC v3): one-off commands run with an app's droplet, numbered per app (sequence_id).
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tasks')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('app_guid', guid, (c) => c.notNull())
        .addColumn('sequence_id', 'integer', (c) => c.notNull())
        .addColumn('name', name, (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('memory_in_mb', 'integer', (c) => c.notNull())
        .addColumn('disk_in_mb', 'integer', (c) => c.notNull())
        .addColumn('log_rate_limit_in_bytes_per_second', 'integer', (c) => c.notNull())
        .addColumn('droplet_guid', guid, (c) => c.notNull())
        .addColumn('failure_reason', 'text')
        .addColumn('dea_id', name)
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addUniqueConstraint('tasks_app_sequence', ['app_guid', 'sequence_id'])
        .execute();
      await db.schema.createIndex('tasks_state').on('tasks').column('state').execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table tasks`.execute(db);
    },
  },
  '0010_deployments': {
    // Rolling deployments (CC v3): the web process's instances replaced one index at a time.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('deployments')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('app_guid', guid, (c) => c.notNull())
        .addColumn('process_guid', guid, (c) => c.notNull())
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('status_value', 'varchar(16)', (c) => c.notNull())
        .addColumn('status_reason', 'varchar(16)', (c) => c.notNull())
        .addColumn('strategy', 'varchar(16)', (c) => c.notNull())
        .addColumn('max_in_flight', 'integer', (c) => c.notNull())
        .addColumn('droplet_guid', guid, (c) => c.notNull())
        .addColumn('previous_droplet_guid', guid)
        .addColumn('version', guid, (c) => c.notNull())
        .addColumn('previous_version', guid, (c) => c.notNull())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('starts', 'text', (c) => c.notNull())
        .addColumn('cancel_reason', 'text')
        .addColumn('last_successful_healthcheck', time, (c) => c.notNull())
        .addColumn('last_status_change', time, (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('deployments_status').on('deployments').columns(['status_value', 'app_guid']).execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table deployments`.execute(db);
    },
  },
  '0011_sidecars': {
    // Sidecars (CC v3): commands run beside the instances of an app's processes of given types.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('sidecars')
        .addColumn('guid', guid, (c) => c.primaryKey())
        .addColumn('app_guid', guid, (c) => c.notNull().references('apps.guid').onDelete('cascade'))
        .addColumn('name', name, (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('memory_in_mb', 'integer')
        .addColumn('origin', 'varchar(16)', (c) => c.notNull())
        .addColumn('created_at', time, (c) => c.notNull())
        .addColumn('updated_at', time, (c) => c.notNull())
        .addUniqueConstraint('sidecars_app_name', ['app_guid', 'name'])
        .execute();
      await db.schema
        .createTable('sidecar_process_types')
        .addColumn('sidecar_guid', guid, (c) => c.notNull().references('sidecars.guid').onDelete('cascade'))
        .addColumn('app_guid', guid, (c) => c.notNull())
        .addColumn('type', name, (c) => c.notNull())
        .addPrimaryKeyConstraint('sidecar_process_types_pk', ['sidecar_guid', 'type'])
        .execute();
      await db.schema.createIndex('sidecar_process_types_app_type').on('sidecar_process_types').columns(['app_guid', 'type']).execute();
    },
    async down(db: Kysely<unknown>) {
      await sql`drop table sidecar_process_types`.execute(db);
      await sql`drop table sidecars`.execute(db);
    },
  },
  '0012_ssh': {
    // ssh into instances (docs/ssh.md): the app features `ssh` and `revisions` and the space's `ssh`,
    // as Cloud Controller's columns; existing apps and spaces get the defaults a new one gets.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('apps').addColumn('enable_ssh', 'integer', (c) => c.notNull().defaultTo(1)).execute();
      await db.schema.alterTable('apps').addColumn('revisions_enabled', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('spaces').addColumn('allow_ssh', 'integer', (c) => c.notNull().defaultTo(1)).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('spaces').dropColumn('allow_ssh').execute();
      await db.schema.alterTable('apps').dropColumn('revisions_enabled').execute();
      await db.schema.alterTable('apps').dropColumn('enable_ssh').execute();
    },
  },
  '0013_service_jobs': {
    // Asynchronous service operations (issue 20): a job holds what its broker work still needs and
    // who runs it (a lease), so that a controller that restarts, or another on the same database,
    // goes on with it. A binding's claim makes one binding per app and one key per name a unique key.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('jobs').addColumn('payload', 'text').execute();
      await db.schema.alterTable('jobs').addColumn('run_at', time).execute();
      await db.schema.alterTable('jobs').addColumn('lease_owner', 'varchar(64)').execute();
      await db.schema.alterTable('jobs').addColumn('lease_until', time).execute();
      await db.schema.createIndex('jobs_state').on('jobs').column('state').execute();
      await db.schema.alterTable('service_bindings').addColumn('claim', 'varchar(300)').execute();
      const rows = await sql<{ guid: string; type: string; name: string | null; app_guid: string | null; instance_guid: string }>`select guid, type, name, app_guid, instance_guid from service_bindings order by created_at, guid`.execute(db);
      // Two requests could bind twice before this key existed: the later keeps a claim of its own.
      const seen = new Set<string>();
      for (const row of rows.rows) {
        let claim = row.type === 'key' ? `key:${row.name ?? ''}` : `app:${row.app_guid ?? ''}`;
        if (seen.has(`${row.instance_guid} ${claim}`)) claim = `duplicate:${row.guid}`;
        seen.add(`${row.instance_guid} ${claim}`);
        await sql`update service_bindings set claim = ${claim} where guid = ${row.guid}`.execute(db);
      }
      await db.schema.createIndex('service_bindings_claim').on('service_bindings').columns(['instance_guid', 'claim']).unique().execute();
    },
    async down(db: Kysely<unknown>) {
      await dropIndex(db, 'service_bindings_claim', 'service_bindings');
      await db.schema.alterTable('service_bindings').dropColumn('claim').execute();
      await dropIndex(db, 'jobs_state', 'jobs');
      for (const column of ['lease_until', 'lease_owner', 'run_at', 'payload']) await db.schema.alterTable('jobs').dropColumn(column).execute();
    },
  },
  '0014_service_broker_state': {
    // Registering or updating a broker is a job (issue 20), as in Cloud Controller: the broker is
    // SYNCHRONIZING while its catalog is fetched, then AVAILABLE, or SYNCHRONIZATION_FAILED.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('service_brokers').addColumn('state', 'varchar(32)', (c) => c.notNull().defaultTo('AVAILABLE')).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('service_brokers').dropColumn('state').execute();
    },
  },
  '0015_mysql_credentials_as_cf_mysql': {
    // The built-in MySQL broker's bindings made before its credentials became cf-mysql's (issue 20)
    // carried devbox's internal node id and a `host` beside `hostname`: apps see only cf-mysql's keys.
    async up(db: Kysely<unknown>) {
      const rows = await sql<{ guid: string; credentials: string }>`
        select b.guid, b.credentials from service_bindings b
        join service_instances i on i.guid = b.instance_guid
        join service_plans p on p.guid = i.plan_guid
        join service_offerings o on o.guid = p.offering_guid
        join service_brokers k on k.guid = o.broker_guid
        where k.name = 'p-mysql'`.execute(db);
      for (const row of rows.rows) {
        let credentials: Record<string, unknown>;
        try {
          credentials = JSON.parse(row.credentials) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (!('node_id' in credentials) && !('host' in credentials && 'hostname' in credentials)) continue;
        delete credentials.node_id;
        if ('hostname' in credentials) delete credentials.host;
        await sql`update service_bindings set credentials = ${JSON.stringify(credentials)} where guid = ${row.guid}`.execute(db);
      }
    },
    async down() {
      // What was removed was never meant for apps.
    },
  },
};
