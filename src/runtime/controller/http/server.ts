// The API server: authenticates every request with uaa's token (except the info endpoints), routes
// it to its controller (controllers/), and answers every failure as a Cloud Controller error.
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestUrls } from '../../common/config.js';
import { createHttpServer, requestCutOff, requestDeadlines, type RefusedRequests, type RequestDeadlines } from '../../common/http.js';
import { TokenError, hasScope, type TokenClaims, type TokenVerifier } from '../../common/tokens.js';
import { ApiError, notAuthorized } from '../errors.js';
import { recordUser } from '../actions/roles.js';
import { ServiceJobs } from '../actions/service-jobs.js';
import { readJsonBody, Routes, send, sendError, type ApiRequest } from './routes.js';
import type { Actor, ControllerContext, RequestContext } from '../context.js';
import { appRoutes } from '../controllers/apps.js';
import { auditEventRoutes } from '../controllers/audit-events.js';
import { buildAndDropletRoutes } from '../controllers/builds.js';
import { deploymentRoutes } from '../controllers/deployments.js';
import { domainRoutes } from '../controllers/domains.js';
import { featureFlagRoutes } from '../controllers/feature-flags.js';
import { featureRoutes } from '../controllers/features.js';
import { infoRoutes, PUBLIC_PATHS } from '../controllers/info.js';
import { internalRoutes } from '../controllers/internal.js';
import { jobRoutes } from '../controllers/jobs.js';
import { manifestRoutes } from '../controllers/manifests.js';
import { organizationRoutes } from '../controllers/organizations.js';
import { packageRoutes } from '../controllers/packages.js';
import { processInstanceRoutes, processRoutes } from '../controllers/processes.js';
import { taskRoutes } from '../controllers/tasks.js';
import { quotaRoutes } from '../controllers/quotas.js';
import { roleRoutes } from '../controllers/roles.js';
import { routeRoutes } from '../controllers/routes.js';
import { serviceRouteBindingRoutes } from '../controllers/service-route-bindings.js';
import { serviceRoutes } from '../controllers/services.js';
import { sidecarRoutes } from '../controllers/sidecars.js';
import { stackRoutes } from '../controllers/stacks.js';
import { syslogDrainRoutes } from '../controllers/syslog-drains.js';

export interface ApiStats {
  requests: number;
  responses: Record<string, number>;
  errors: number;
  /** Requests refused before routing (common/http.ts): two Host headers, a body that did not come in time. */
  refused?: RefusedRequests;
}

export function apiRoutes(): Routes<RequestContext> {
  const routes = new Routes<RequestContext>();
  for (const register of [infoRoutes, organizationRoutes, domainRoutes, appRoutes, processRoutes, routeRoutes, packageRoutes, buildAndDropletRoutes, serviceRoutes, serviceRouteBindingRoutes, auditEventRoutes, jobRoutes, manifestRoutes, processInstanceRoutes, stackRoutes, featureFlagRoutes, deploymentRoutes, sidecarRoutes, taskRoutes, roleRoutes, quotaRoutes, featureRoutes, internalRoutes, syslogDrainRoutes]) register(routes);
  return routes;
}

function actorOf(claims: TokenClaims): Actor {
  const admin = hasScope(claims, 'cloud_controller.admin');
  return claims.user_id
    ? { guid: claims.user_id, type: 'user', name: claims.user_name ?? claims.user_id, admin }
    : { guid: claims.client_id, type: 'client', name: claims.client_id, admin };
}

const ANONYMOUS: Actor = { guid: 'anonymous', type: 'user', name: 'anonymous' };

export function createApiServer(context: ControllerContext, verifier: TokenVerifier, stats: ApiStats, deadlines: RequestDeadlines = requestDeadlines()): http.Server {
  const routes = apiRoutes();
  // The broker work its requests start (202 and a job) goes on in the background while it serves.
  let jobs: ServiceJobs | undefined;
  if (!context.serviceJobs) {
    jobs = new ServiceJobs(context);
    context.serviceJobs = jobs;
  }
  // The users this server has recorded (or found recorded): a token's user is written once, as
  // Cloud Controller creates a user row the first time it sees a token's user_id.
  const knownUsers = new Set<string>();
  const recordTokenUser = async (claims: TokenClaims) => {
    const guid = claims.user_id;
    if (!guid || knownUsers.has(guid)) return;
    await recordUser(context.db, { guid, username: claims.user_name ?? null, origin: claims.origin ?? null });
    knownUsers.add(guid);
  };

  const authenticate = async (req: IncomingMessage, path: string, method: string): Promise<Actor> => {
    if (PUBLIC_PATHS.has(path)) return ANONYMOUS;
    let claims: TokenClaims;
    try {
      claims = await verifier.verify(req.headers.authorization);
    } catch (error) {
      if (error instanceof TokenError && error.reason === 'missing') throw new ApiError('NotAuthenticated', 'Authentication error');
      // A genuine token for another resource: said, so that its holder knows which token to get.
      if (error instanceof TokenError && error.reason === 'audience') throw new ApiError('InvalidAuthToken', `Invalid Auth Token: ${error.message}`);
      throw new ApiError('InvalidAuthToken', 'Invalid Auth Token');
    }
    const reading = method === 'GET' || method === 'HEAD';
    const allowed = hasScope(claims, 'cloud_controller.admin') || hasScope(claims, reading ? 'cloud_controller.read' : 'cloud_controller.write');
    if (!allowed) throw notAuthorized();
    await recordTokenUser(claims);
    return actorOf(claims);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://controller');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const actor = await authenticate(req, path, method);
    const matched = routes.match(method, path);
    if (!matched || matched === 'method') throw new ApiError('NotFound', 'Unknown request');
    const request: ApiRequest = {
      method,
      path,
      params: matched.params,
      query: url.searchParams,
      headers: req.headers,
      raw: req,
      body: undefined,
    };
    if (!matched.route.rawBody && ['POST', 'PATCH', 'PUT'].includes(method)) request.body = await readJsonBody(req);
    // A request that came in on the cf address (127.0.0.1 / localhost), or over HTTPS, gets links there (config.ts).
    const urls = requestUrls(req.headers.host, req.headers['x-forwarded-proto'], context.urls);
    const response = await matched.route.handler(request, { ...context, urls, actor });
    send(res, response);
    return response.status ?? 200;
  };

  stats.refused ??= { duplicate_host: 0, body_timeout: 0 };
  const refused = stats.refused;
  // Two Host headers (400) and request deadlines (408) are common/http.ts's, in Cloud Controller's
  // error shape (CF-InvalidRequest; the HTTP status tells a 408 apart).
  const errorBody = (_status: number, message: string) => ({ contentType: 'application/json; charset=utf-8', body: JSON.stringify(new ApiError('InvalidRequest', message).toJSON()) });
  const onRefused = (reason: keyof RefusedRequests, req: IncomingMessage) => {
    count(stats, reason === 'body_timeout' ? 408 : 400);
    context.log.info('request refused', { reason, method: req.method, path: (req.url ?? '').split('?')[0] });
  };
  const server = createHttpServer((req, res) => {
    stats.requests++;
    handle(req, res)
      .then((status) => count(stats, status))
      .catch((error: unknown) => {
        // The body did not come in time: answered 408 (or cut off) and counted already.
        if (requestCutOff(req)) return;
        let apiError = error as ApiError;
        if (!(error instanceof ApiError)) {
          stats.errors++;
          context.log.error('request failed', { method: req.method, url: req.url, error: (error as Error).stack ?? String(error) });
          apiError = new ApiError('ServerError', 'An unknown error occurred.');
        }
        count(stats, apiError.status);
        // Unread request bodies (an upload refused early) must not keep the connection hanging.
        req.resume();
        sendError(res, apiError);
      });
  }, { deadlines, refused, errorBody, onRefused });
  if (jobs) {
    const started = jobs;
    server.once('listening', () => started.start());
    server.once('close', () => started.stop());
  }
  return server;
}

function count(stats: ApiStats, status: number) {
  const key = `${Math.floor(status / 100)}xx`;
  stats.responses[key] = (stats.responses[key] ?? 0) + 1;
}
