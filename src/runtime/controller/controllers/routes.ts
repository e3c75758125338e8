// /v3/routes (host + domain + path) and their destinations (which app's process gets the
// traffic): thin routes over actions/routes.ts.
import type { RequestContext } from '../context.js';
import type { Routes } from '../http/routes.js';
import { createRoute, deleteRouteAction, deleteUnmappedRoutes, mapDestinations, unmapDestination } from '../actions/routes.js';
import { listMessage, ORDER_BY_TIME } from '../messages/list.js';
import { destinationsMessage, routeCreateMessage, routeListMessage, spaceRoutesDeleteMessage } from '../messages/routes.js';
import { paginated } from '../presenters/paginated.js';
import { presentRoute, presentRouteDestinations } from '../presenters/routes.js';
import { getApp } from '../repositories/apps.js';
import { getRoute, listAppRoutes, listRouteDestinations, listRoutes, withDestinations, type RouteRow } from '../repositories/routes.js';
import { getSpace } from '../repositories/spaces.js';
import { jobAccepted } from './jobs.js';

export function routeRoutes(routes: Routes<RequestContext>): void {
  const present = async (ctx: RequestContext, rows: RouteRow[]) => (await withDestinations(ctx.db, rows)).map((r) => presentRoute(r, ctx));
  const destinations = async (ctx: RequestContext, route: RouteRow) => ({ body: presentRouteDestinations(route, await listRouteDestinations(ctx.db, route.guid), ctx) });

  routes.get('/v3/routes', async (req, ctx) => {
    const message = routeListMessage(req.query);
    const { total, rows } = await listRoutes(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/routes', req.query, message, total, await present(ctx, rows)) };
  });

  routes.get('/v3/routes/:guid', async (req, ctx) => ({ body: (await present(ctx, [await getRoute(ctx.db, req.params.guid)]))[0] }));

  routes.post('/v3/routes', async (req, ctx) => ({ status: 201, body: (await present(ctx, [await createRoute(ctx, routeCreateMessage(req.body))]))[0] }));

  routes.delete('/v3/routes/:guid', async (req, ctx) => {
    const job = await deleteRouteAction(ctx, await getRoute(ctx.db, req.params.guid));
    return jobAccepted(ctx, job.guid);
  });

  // cf delete-orphaned-routes: the query is checked first, then the space, as Cloud Controller does.
  routes.delete('/v3/spaces/:guid/routes', async (req, ctx) => {
    spaceRoutesDeleteMessage(req.query);
    return jobAccepted(ctx, (await deleteUnmappedRoutes(ctx, await getSpace(ctx.db, req.params.guid))).guid);
  });

  routes.get('/v3/routes/:guid/destinations', async (req, ctx) => destinations(ctx, await getRoute(ctx.db, req.params.guid)));

  routes.post('/v3/routes/:guid/destinations', async (req, ctx) => {
    const route = await getRoute(ctx.db, req.params.guid); // an unknown route is a 404 whatever the body says
    await mapDestinations(ctx, route, destinationsMessage(req.body));
    return destinations(ctx, route);
  });

  routes.delete('/v3/routes/:guid/destinations/:destination', async (req, ctx) => {
    await unmapDestination(ctx, await getRoute(ctx.db, req.params.guid), req.params.destination);
    return { status: 204 };
  });

  routes.get('/v3/apps/:guid/routes', async (req, ctx) => {
    const app = await getApp(ctx.db, req.params.guid);
    const message = listMessage(req.query, [], ORDER_BY_TIME);
    const { total, rows } = await listAppRoutes(ctx.db, app.guid, message);
    return { body: paginated(ctx.urls.api, `/v3/apps/${app.guid}/routes`, req.query, message, total, await present(ctx, rows)) };
  });
}
