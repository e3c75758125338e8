// /v3/service_brokers, /v3/service_offerings and /v3/service_plans: thin routes over
// actions/service-brokers.ts. Brokers are the admin's: registering, updating and deleting one needs
// cloud_controller.admin. Instances and credential bindings are in service-instances.ts.
import type { RequestContext } from '../context.js';
import { notAuthorized } from '../errors.js';
import type { Routes } from '../http/routes.js';
import { createBroker, deleteBrokerAction, updateBrokerAction } from '../actions/service-brokers.js';
import { listMessage } from '../messages/list.js';
import { brokerCreateMessage, brokerUpdateMessage } from '../messages/services.js';
import { paginated } from '../presenters/paginated.js';
import { presentBroker, presentOffering, presentPlan } from '../presenters/services.js';
import { BROKER_FILTERS, getBroker, getOffering, getPlan, listBrokers, listOfferings, listPlans, OFFERING_FILTERS, PLAN_FILTERS } from '../repositories/services.js';
import { jobAccepted } from './jobs.js';
import { checkOfferingQuery, checkPlanQuery, offeringsIncluded, plansIncluded, withIncluded } from './service-included.js';
import { serviceInstanceRoutes } from './service-instances.js';

/** Checked before anything else, the body included. */
function adminOnly(ctx: RequestContext): void {
  if (!ctx.actor.admin) throw notAuthorized();
}

export function serviceRoutes(routes: Routes<RequestContext>): void {
  routes.get('/v3/service_brokers', async (req, ctx) => {
    const message = listMessage(req.query, BROKER_FILTERS);
    const { total, rows } = await listBrokers(ctx.db, message);
    return { body: paginated(ctx.urls.api, '/v3/service_brokers', req.query, message, total, rows.map((r) => presentBroker(r, ctx))) };
  });

  routes.get('/v3/service_brokers/:guid', async (req, ctx) => ({ body: presentBroker(await getBroker(ctx.db, req.params.guid), ctx) }));

  routes.post('/v3/service_brokers', async (req, ctx) => {
    adminOnly(ctx);
    const job = await createBroker(ctx, brokerCreateMessage(req.body));
    return jobAccepted(ctx, job.guid);
  });

  routes.patch('/v3/service_brokers/:guid', async (req, ctx) => {
    adminOnly(ctx);
    const broker = await getBroker(ctx.db, req.params.guid);
    const { broker: updated, job } = await updateBrokerAction(ctx, broker, brokerUpdateMessage(req.body));
    return job ? jobAccepted(ctx, job.guid) : { body: presentBroker(updated, ctx) };
  });

  routes.delete('/v3/service_brokers/:guid', async (req, ctx) => {
    adminOnly(ctx);
    const job = await deleteBrokerAction(ctx, await getBroker(ctx.db, req.params.guid));
    return jobAccepted(ctx, job.guid);
  });

  routes.get('/v3/service_offerings', async (req, ctx) => {
    const message = listMessage(req.query, OFFERING_FILTERS);
    checkOfferingQuery(req.query);
    const { total, rows } = await listOfferings(ctx.db, message);
    const list = paginated(ctx.urls.api, '/v3/service_offerings', req.query, message, total, rows.map((r) => presentOffering(r, ctx)));
    return { body: withIncluded(list, await offeringsIncluded(ctx, req.query, rows)) };
  });

  routes.get('/v3/service_offerings/:guid', async (req, ctx) => {
    checkOfferingQuery(req.query);
    const offering = await getOffering(ctx.db, req.params.guid);
    return { body: withIncluded(presentOffering(offering, ctx), await offeringsIncluded(ctx, req.query, [offering])) };
  });

  routes.get('/v3/service_plans', async (req, ctx) => {
    const message = listMessage(req.query, PLAN_FILTERS);
    checkPlanQuery(req.query);
    const { total, rows } = await listPlans(ctx.db, message);
    const list = paginated(ctx.urls.api, '/v3/service_plans', req.query, message, total, rows.map((r) => presentPlan(r, ctx)));
    return { body: withIncluded(list, await plansIncluded(ctx, req.query, rows)) };
  });

  routes.get('/v3/service_plans/:guid', async (req, ctx) => {
    checkPlanQuery(req.query);
    const plan = await getPlan(ctx.db, req.params.guid);
    return { body: withIncluded(presentPlan(plan, ctx), await plansIncluded(ctx, req.query, [plan])) };
  });

  serviceInstanceRoutes(routes);
}
