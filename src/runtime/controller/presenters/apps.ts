// Rendering apps as v3 resources: the app, its environment variables and its whole environment
// (`GET /v3/apps/:guid/env`, what `cf env` shows).
import type { Metadata, Urls } from '../context.js';
import type { VcapApplication } from '../environment/vcap-application.js';
import { groupByLabel, type VcapServiceEntry } from '../environment/vcap-services.js';
import type { AppRow } from '../repositories/apps.js';
import { jsonColumn } from '../repositories/query.js';

type Ctx = { urls: Urls };

export function presentApp(row: AppRow, ctx: Ctx) {
  const self = `${ctx.urls.api}/v3/apps/${row.guid}`;
  return {
    guid: row.guid,
    name: row.name,
    state: row.state,
    created_at: row.created_at,
    updated_at: row.updated_at,
    lifecycle: { type: row.lifecycle_type, data: { buildpacks: jsonColumn('apps', row, 'buildpacks', [] as string[]), stack: row.stack } },
    relationships: { space: { data: { guid: row.space_guid } } },
    metadata: jsonColumn<Metadata, AppRow, 'metadata'>('apps', row, 'metadata', { labels: {}, annotations: {} }),
    links: {
      self: { href: self },
      space: { href: `${ctx.urls.api}/v3/spaces/${row.space_guid}` },
      processes: { href: `${self}/processes` },
      packages: { href: `${self}/packages` },
      environment_variables: { href: `${self}/environment_variables` },
      current_droplet: { href: `${self}/droplets/current` },
      droplets: { href: `${self}/droplets` },
      routes: { href: `${self}/routes` },
      start: { href: `${self}/actions/start`, method: 'POST' },
      stop: { href: `${self}/actions/stop`, method: 'POST' },
      restart: { href: `${self}/actions/restart`, method: 'POST' },
    },
  };
}

export function presentEnvironmentVariables(app: AppRow, ctx: Ctx) {
  return {
    var: jsonColumn('apps', app, 'environment_variables', {} as Record<string, string>),
    links: {
      self: { href: `${ctx.urls.api}/v3/apps/${app.guid}/environment_variables` },
      app: { href: `${ctx.urls.api}/v3/apps/${app.guid}` },
    },
  };
}

export function presentAppEnvironment(app: AppRow, vcapApplication: VcapApplication, services: VcapServiceEntry[]) {
  return {
    staging_env_json: {},
    running_env_json: {},
    environment_variables: jsonColumn('apps', app, 'environment_variables', {} as Record<string, string>),
    system_env_json: { VCAP_SERVICES: groupByLabel(services) },
    application_env_json: { VCAP_APPLICATION: vcapApplication },
  };
}
