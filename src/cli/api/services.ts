// Services: brokers and the marketplace (offerings and their plans), service instances (managed
// and user-provided), their bindings to apps and service keys, and the summaries `services` and
// `service` show. What a broker does (a managed instance's create, update and delete, a binding's
// create and delete) the API answers with a job: `follow` watches it as cf does.
import { waitFor } from '../../runtime/common/poll.js';
import { CliError } from '../base-command.js';
import type { ApiClient } from './client.js';
import type { App, Job, ServiceBroker, ServiceCredentialBinding, ServiceInstance, ServiceOffering, ServicePlan } from './resources.js';

/** A service instance with what `services` / `service` show about it. */
export interface ServiceInstanceSummary {
  instance: ServiceInstance;
  offering?: string;
  plan?: string;
  broker?: string;
  apps: string[];
  /** The app bindings, with the name of their app. */
  bindings: { binding: ServiceCredentialBinding; app: string }[];
}

/**
 * How long the CLI follows a service job before it stops, says where the operation stands and leaves
 * it to the controller (which goes on): DEVBOX_SERVICE_WAIT_MS, else an hour. cf waits for good.
 */
export function serviceWaitLimitMs(): number {
  const n = Number(process.env.DEVBOX_SERVICE_WAIT_MS);
  return Number.isFinite(n) && n > 0 ? n : 3_600_000;
}

/**
 * Where following a job ended: COMPLETE; POLLING (not waiting: the broker works on asynchronously, as
 * cf stops there without --wait); or it was stopped first, by the limit or Ctrl-C.
 */
export type FollowEnd = 'COMPLETE' | 'POLLING' | 'limit' | 'interrupted';

export interface FollowOptions {
  /** Wait until the job is COMPLETE (cf's --wait); otherwise stop once it is POLLING. */
  wait: boolean;
  /** Called after each look at the job (progress). */
  onPoll?: (job: Job, elapsedMs: number) => void | Promise<void>;
  limitMs?: number;
}

/** An app binding or a service key of an instance. */
export type BindingTarget = { app: App; name?: string } | { key: string };

export class Services {
  constructor(private readonly client: ApiClient) {}

  // --- brokers and the marketplace ------------------------------------------------------------

  brokers(names?: string[]): Promise<ServiceBroker[]> {
    return this.client.list<ServiceBroker>('/v3/service_brokers', { order_by: 'name', names });
  }

  /** The broker called `name`, if there is one. */
  async findBroker(name: string): Promise<ServiceBroker | undefined> {
    return (await this.brokers([name]))[0];
  }

  /**
   * Registers a broker and waits, as long as the broker takes, for the controller to fetch its
   * catalog. A catalog that cannot be had leaves the broker registered (as Cloud Controller does):
   * the error says how to mend or remove it.
   */
  async createBroker(name: string, username: string, password: string, url: string): Promise<void> {
    const { location } = await this.client.start('POST', '/v3/service_brokers', { name, url, authentication: { type: 'basic', credentials: { username, password } } });
    if (!location) return;
    try {
      await this.untilComplete(location, `the catalog of service broker ${name}`);
    } catch (error) {
      if (!(error instanceof CliError) || error.exitCode !== 1) throw error;
      throw new CliError(`${error.message}\nService broker ${name} is registered, but its catalog could not be fetched: mend it with 'devbox update-service-broker ${name} USERNAME PASSWORD URL', or remove it with 'devbox delete-service-broker ${name}'.`);
    }
  }

  /** Changes the broker's credentials and url, and waits for its catalog to be fetched with them (a failure changes nothing). */
  async updateBroker(broker: ServiceBroker, username: string, password: string, url: string): Promise<void> {
    const { location } = await this.client.start('PATCH', `/v3/service_brokers/${broker.guid}`, { url, authentication: { type: 'basic', credentials: { username, password } } });
    if (location) await this.untilComplete(location, `the catalog of service broker ${broker.name}`);
  }

  async deleteBroker(broker: ServiceBroker): Promise<void> {
    await this.client.deleteAndWait(`/v3/service_brokers/${broker.guid}`);
  }

  offerings(names?: string[], brokerNames?: string[]): Promise<ServiceOffering[]> {
    return this.client.list<ServiceOffering>('/v3/service_offerings', { order_by: 'name', names, service_broker_names: brokerNames });
  }

  plans(offeringGuids?: string[]): Promise<ServicePlan[]> {
    return this.client.list<ServicePlan>('/v3/service_plans', { service_offering_guids: offeringGuids });
  }

  /**
   * The offering (of broker `brokerName`, when given) and its plan called `planName`, or a CliError
   * listing what there is. Two brokers offering one name need the broker (-b), as cf says.
   */
  async resolvePlan(offeringName: string, planName?: string, brokerName?: string): Promise<{ offering: ServiceOffering; plans: ServicePlan[]; plan?: ServicePlan }> {
    const offerings = await this.offerings([offeringName], brokerName === undefined ? undefined : [brokerName]);
    if (offerings.length === 0) {
      if (brokerName !== undefined && !(await this.findBroker(brokerName))) throw new CliError(`Service broker '${brokerName}' not found. 'devbox service-brokers' lists the brokers.`);
      throw new CliError(`Service offering '${offeringName}' not found${brokerName ? ` for service broker '${brokerName}'` : ''}. 'devbox marketplace' lists the offerings.`);
    }
    if (offerings.length > 1) {
      const brokers = await this.brokers();
      const names = offerings.map((o) => brokers.find((b) => b.guid === o.relationships.service_broker.data.guid)?.name ?? '?');
      throw new CliError(`Service offering '${offeringName}' is provided by multiple service brokers (${names.join(', ')}). Specify a broker by using the '-b' flag.`);
    }
    const offering = offerings[0];
    const plans = await this.plans([offering.guid]);
    if (planName === undefined) return { offering, plans };
    const plan = plans.find((p) => p.name === planName);
    if (!plan) throw new CliError(`The plan ${planName} could not be found for service offering ${offeringName}. Its plans: ${plans.map((p) => p.name).join(', ')}.`);
    return { offering, plans, plan };
  }

  /** The plan called `planName` of the instance's own offering (for a plan change). */
  async planOfInstanceOffering(instance: ServiceInstance, planName: string): Promise<ServicePlan> {
    const current = instance.relationships.service_plan?.data.guid;
    if (!current) throw new CliError(`Service instance ${instance.name} is user-provided: it has no plan.`);
    const plan = await this.client.call<ServicePlan>('GET', `/v3/service_plans/${current}`);
    const offering = plan.relationships.service_offering.data.guid;
    const plans = await this.plans([offering]);
    const found = plans.find((p) => p.name === planName);
    if (!found) throw new CliError(`The plan ${planName} could not be found for the service offering of ${instance.name}. Its plans: ${plans.map((p) => p.name).join(', ')}.`);
    return found;
  }

  // --- instances -------------------------------------------------------------------------------

  instances(spaceGuid = this.client.target.current().space.guid): Promise<ServiceInstance[]> {
    return this.client.list<ServiceInstance>('/v3/service_instances', { space_guids: spaceGuid, order_by: 'name' });
  }

  /** The instance called `name` in the targeted space, if there is one. */
  async findInstance(name: string): Promise<ServiceInstance | undefined> {
    const [instance] = await this.client.list<ServiceInstance>('/v3/service_instances', { space_guids: this.client.target.current().space.guid, names: name });
    return instance;
  }

  /** The instance called `name` in the targeted space, or a CliError naming it. */
  async instance(name: string): Promise<ServiceInstance> {
    const instance = await this.findInstance(name);
    if (!instance) throw new CliError(`Service instance '${name}' not found. 'devbox services' lists the service instances in the targeted space.`);
    return instance;
  }

  /** The app and the service instance, looked up together; when both are missing, the app is named (as cf does). */
  async appAndInstance(appName: string, instanceName: string): Promise<[App, ServiceInstance]> {
    const [app, instance] = await Promise.allSettled([this.client.apps.get(appName), this.instance(instanceName)]);
    if (app.status === 'rejected') throw app.reason;
    if (instance.status === 'rejected') throw instance.reason;
    return [app.value, instance.value];
  }

  /** Starts a managed instance's create: the URL of its job. */
  async createManagedInstance(name: string, planGuid: string, { parameters, tags }: { parameters?: Record<string, unknown>; tags?: string[] } = {}): Promise<string> {
    const { location } = await this.client.start('POST', '/v3/service_instances', {
      type: 'managed',
      name,
      relationships: { space: { data: { guid: this.client.target.current().space.guid } }, service_plan: { data: { guid: planGuid } } },
      ...(parameters ? { parameters } : {}),
      ...(tags ? { tags } : {}),
    });
    if (!location) throw new CliError(`The API created ${name} without a job: is it a Cloud Foundry v3 API?`);
    return location;
  }

  /** `fields`: credentials, and optionally syslog_drain_url, route_service_url and tags, as the API names them. */
  createUserProvidedInstance(name: string, fields: { credentials: Record<string, unknown>; syslog_drain_url?: string; route_service_url?: string; tags?: string[] }): Promise<ServiceInstance> {
    return this.client.call('POST', '/v3/service_instances', { type: 'user-provided', name, ...fields, relationships: { space: { data: { guid: this.client.target.current().space.guid } } } });
  }

  /** Changes an instance: at once (the instance), or through its broker (the job's URL). */
  async updateInstance(instance: ServiceInstance, body: Record<string, unknown>): Promise<{ location?: string; instance?: ServiceInstance }> {
    const { location, resource } = await this.client.start<ServiceInstance>('PATCH', `/v3/service_instances/${instance.guid}`, body);
    return { location, instance: resource };
  }

  /** Starts a delete: the job's URL (a managed instance's), or undefined when it is gone already (user-provided, or purged). */
  async deleteInstance(instance: ServiceInstance, { purge = false } = {}): Promise<string | undefined> {
    return (await this.client.start('DELETE', `/v3/service_instances/${instance.guid}${purge ? '?purge=true' : ''}`)).location;
  }

  // --- bindings and keys -------------------------------------------------------------------------

  bindings(query: { service_instance_guids?: string; app_guids?: string; type?: string; names?: string }): Promise<ServiceCredentialBinding[]> {
    return this.client.list<ServiceCredentialBinding>('/v3/service_credential_bindings', query);
  }

  /** Starts binding the instance to an app (`name`: the binding's), or making a service key called `key`: its job's URL, or the binding when made at once (user-provided). */
  async startBinding(instance: ServiceInstance, target: BindingTarget, parameters?: Record<string, unknown>): Promise<{ location?: string; binding?: ServiceCredentialBinding }> {
    const relationships = { service_instance: { data: { guid: instance.guid } }, ...('app' in target ? { app: { data: { guid: target.app.guid } } } : {}) };
    const name = 'key' in target ? target.key : target.name;
    const { location, resource } = await this.client.start<ServiceCredentialBinding>('POST', '/v3/service_credential_bindings', { type: 'app' in target ? 'app' : 'key', ...(name ? { name } : {}), relationships, ...(parameters ? { parameters } : {}) });
    return { location, binding: resource };
  }

  /** Binds the instance to an app (or makes a key) and waits until its broker is done; its failure is a CliError. */
  async createBinding(instance: ServiceInstance, target: BindingTarget, parameters?: Record<string, unknown>): Promise<void> {
    const { location } = await this.startBinding(instance, target, parameters);
    if (location) await this.untilComplete(location, `binding ${instance.name}`);
  }

  /** Starts deleting a binding or key: its job's URL, or undefined when it is gone already. */
  async deleteBinding(binding: ServiceCredentialBinding): Promise<string | undefined> {
    return (await this.client.start('DELETE', `/v3/service_credential_bindings/${binding.guid}`)).location;
  }

  bindingDetails(binding: ServiceCredentialBinding): Promise<{ credentials: Record<string, unknown> }> {
    return this.client.call('GET', `/v3/service_credential_bindings/${binding.guid}/details`);
  }

  // --- jobs ---------------------------------------------------------------------------------------

  /**
   * Follows a job as cf does: until it is COMPLETE, or (not waiting) until the broker works on
   * asynchronously (POLLING). A FAILED job is a CliError with its error. Ctrl-C or the limit stop
   * following (the job goes on in the controller): the end says which.
   */
  async follow(location: string, { wait, onPoll, limitMs = serviceWaitLimitMs() }: FollowOptions): Promise<FollowEnd> {
    const started = Date.now();
    let interrupted = false;
    const onSigint = () => {
      interrupted = true;
    };
    process.once('SIGINT', onSigint);
    try {
      return await waitFor<FollowEnd>(
        `the API's job ${location}`,
        async () => {
          if (interrupted) return 'interrupted';
          const job = await this.client.call<Job>('GET', location);
          await onPoll?.(job, Date.now() - started);
          if (job.state === 'FAILED') throw new CliError(job.errors.map((e) => e.detail).join('; ') || `The API's job ${location} failed without saying why.`);
          if (job.state === 'COMPLETE') return 'COMPLETE';
          if (job.state === 'POLLING' && !wait) return 'POLLING';
          return interrupted ? 'interrupted' : undefined;
        },
        { timeoutMs: limitMs, backoff: { initialMs: 100, maxMs: 1_000 }, retryIf: () => false, onTimeout: () => 'limit' },
      );
    } finally {
      process.off('SIGINT', onSigint);
    }
  }

  /** Follows a job to its end; stopping first is a CliError saying so. */
  private async untilComplete(location: string, what: string): Promise<void> {
    const end = await this.follow(location, { wait: true });
    if (end === 'limit') throw new CliError(`Stopped waiting for ${what} after ${duration(serviceWaitLimitMs())}: the controller goes on with it (${location}).`);
    if (end === 'interrupted') throw new CliError(`Stopped waiting for ${what}: the controller goes on with it (${location}).`, 130);
  }

  // --- summaries ---------------------------------------------------------------------------------

  /** Every instance in the targeted space (or only `only`) with its offering, plan, broker and bound apps. */
  async summaries(only?: ServiceInstance): Promise<ServiceInstanceSummary[]> {
    const instances = only ? [only] : await this.instances();
    if (instances.length === 0) return [];
    const [plans, offerings, brokers, bindings, apps] = await Promise.all([
      this.client.list<ServicePlan>('/v3/service_plans'),
      this.client.list<ServiceOffering>('/v3/service_offerings'),
      this.client.list<ServiceBroker>('/v3/service_brokers'),
      this.bindings({ service_instance_guids: instances.map((i) => i.guid).join(','), type: 'app' }),
      this.client.apps.list(),
    ]);
    return instances.map((instance) => {
      const plan = plans.find((p) => p.guid === instance.relationships.service_plan?.data.guid);
      const offering = plan && offerings.find((o) => o.guid === plan.relationships.service_offering.data.guid);
      const broker = offering && brokers.find((b) => b.guid === offering.relationships.service_broker.data.guid);
      const bound = bindings.filter((b) => b.relationships.service_instance.data.guid === instance.guid).map((binding) => ({ binding, app: apps.find((a) => a.guid === binding.relationships.app?.data.guid)?.name ?? '' }));
      return { instance, offering: instance.type === 'user-provided' ? 'user-provided' : offering?.name, plan: plan?.name, broker: broker?.name, apps: bound.map((b) => b.app).filter((n) => n !== ''), bindings: bound };
    });
  }
}

/** A wait as people say it: 45 s, 10 min, 1 h. */
export function duration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round((ms / 3_600_000) * 10) / 10} h`;
}
