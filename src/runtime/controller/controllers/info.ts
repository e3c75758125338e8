// `/`, `/v3` and `/v3/info`: where the API, uaa and logs are, so clients discover the endpoints.
// These need no token, as on Cloud Foundry.
import type { Routes } from '../http/routes.js';
import type { RequestContext } from '../context.js';

export const API_VERSION = '3.180.0';

/**
 * Every resource `GET /v3` links, and only those devbox serves: cf builds its table of routes from
 * these links, and a resource missing here is "no resource exists with the name …" to it. Roles
 * and users are real (controllers/roles.ts); quotas are read only (one unlimited organization
 * quota, no space quotas: devbox enforces none) and isolation segments an empty list
 * (controllers/quotas.ts). No security groups or usage events on devbox.
 */
export const V3_RESOURCES = [
  'apps',
  'audit_events',
  'buildpacks',
  'builds',
  'deployments',
  'domains',
  'droplets',
  'feature_flags',
  'info',
  'isolation_segments',
  'jobs',
  'organization_quotas',
  'organizations',
  'packages',
  'processes',
  'resource_matches',
  'roles',
  'routes',
  'service_brokers',
  'service_credential_bindings',
  'service_instances',
  'service_offerings',
  'service_plans',
  'service_route_bindings',
  'space_quotas',
  'spaces',
  'stacks',
  'tasks',
  'users',
] as const;

export function infoRoutes(routes: Routes<RequestContext>): void {
  routes.get('/', (req, ctx) => ({
    body: {
      links: {
        self: { href: ctx.urls.api },
        bits_service: null,
        cloud_controller_v2: null,
        cloud_controller_v3: { href: `${ctx.urls.api}/v3`, meta: { version: API_VERSION } },
        network_policy_v0: null,
        network_policy_v1: null,
        login: { href: ctx.urls.uaa },
        uaa: { href: ctx.urls.uaa },
        credhub: null,
        routing: null,
        logging: { href: ctx.urls.logs.replace(/^http/, 'ws') },
        log_cache: { href: ctx.urls.logs },
        log_stream: { href: ctx.urls.logs },
        // Where `cf ssh` dials the ssh proxy (docs/ssh.md), from its latest advertisement.
        app_ssh: ctx.sshProxies?.link(req.headers.host) ?? null,
      },
    },
  }));
  routes.get('/v3', (_req, ctx) => {
    const link = (path: string) => ({ href: `${ctx.urls.api}/v3/${path}` });
    return { body: { links: { self: { href: `${ctx.urls.api}/v3` }, ...Object.fromEntries(V3_RESOURCES.map((n) => [n, link(n)])) } } };
  });
  routes.get('/v3/info', (_req, ctx) => ({
    body: {
      build: '',
      cli_version: { minimum: '', recommended: '' },
      custom: {},
      description: 'devbox: a local Cloud Foundry',
      name: 'devbox',
      version: 1,
      osbapi_version: '2.17',
      links: { self: { href: `${ctx.urls.api}/v3/info` }, support: { href: '' }, uaa: { href: ctx.urls.uaa }, logs: { href: ctx.urls.logs } },
    },
  }));
}

/** Paths anyone may read without a token. */
export const PUBLIC_PATHS = new Set(['/', '/v3', '/v3/info']);
