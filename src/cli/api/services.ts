// Services: brokers and the marketplace (offerings and their plans), service instances (managed
// and user-provided), their bindings to apps and service keys, and the summaries `services` and
// `service` show.
import { CliError } from '../base-command.js';
import type { ApiClient } from './client.js';
import type { App, ServiceBroker, ServiceCredentialBinding, ServiceInstance, ServiceOffering, ServicePlan } from './resources.js';

/** A service instance with what `services` / `service` show about it. */
export interface ServiceInstanceSummary {
  instance: ServiceInstance;
  offering?: string;
  plan?: string;
  broker?: string;
  apps: string[];
}

export class Services {
  constructor(private readonly client: ApiClient) {}

  // --- brokers and the marketplace ------------------------------------------------------------

  brokers(): Promise<ServiceBroker[]> {
    return this.client.list<ServiceBroker>('/v3/service_brokers', { order_by: 'name' });
  }

  async createBroker(name: string, username: string, password: string, url: string): Promise<void> {
    await this.client.call('POST', '/v3/service_brokers', { name, url, authentication: { type: 'basic', credentials: { username, password } } });
  }

  offerings(names?: string[]): Promise<ServiceOffering[]> {
    return this.client.list<ServiceOffering>('/v3/service_offerings', { order_by: 'name', names });
  }

  plans(offeringGuids?: string[]): Promise<ServicePlan[]> {
    return this.client.list<ServicePlan>('/v3/service_plans', { service_offering_guids: offeringGuids });
  }

  /** The offering's plan called `planName`, or a CliError listing the plans there are. */
  async resolvePlan(offeringName: string, planName?: string): Promise<{ offering: ServiceOffering; plans: ServicePlan[]; plan?: ServicePlan }> {
    const offerings = await this.offerings([offeringName]);
    if (offerings.length === 0) throw new CliError(`Service offering '${offeringName}' not found. 'devbox marketplace' lists the offerings.`);
    if (offerings.length > 1) throw new CliError(`Service offering '${offeringName}' is offered by several brokers; this CLI cannot choose between them yet.`);
    const offering = offerings[0];
    const plans = await this.plans([offering.guid]);
    if (planName === undefined) return { offering, plans };
    const plan = plans.find((p) => p.name === planName);
    if (!plan) throw new CliError(`The plan ${planName} could not be found for service ${offeringName}. Its plans: ${plans.map((p) => p.name).join(', ')}.`);
    return { offering, plans, plan };
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

  createManagedInstance(name: string, planGuid: string, parameters?: Record<string, unknown>): Promise<ServiceInstance> {
    return this.client.call('POST', '/v3/service_instances', {
      type: 'managed',
      name,
      relationships: { space: { data: { guid: this.client.target.current().space.guid } }, service_plan: { data: { guid: planGuid } } },
      ...(parameters ? { parameters } : {}),
    });
  }

  createUserProvidedInstance(name: string, credentials: Record<string, unknown>): Promise<ServiceInstance> {
    return this.client.call('POST', '/v3/service_instances', { type: 'user-provided', name, credentials, relationships: { space: { data: { guid: this.client.target.current().space.guid } } } });
  }

  async deleteInstance(instance: ServiceInstance): Promise<void> {
    await this.client.deleteAndWait(`/v3/service_instances/${instance.guid}`);
  }

  // --- bindings and keys -------------------------------------------------------------------------

  bindings(query: { service_instance_guids?: string; app_guids?: string; type?: string; names?: string }): Promise<ServiceCredentialBinding[]> {
    return this.client.list<ServiceCredentialBinding>('/v3/service_credential_bindings', query);
  }

  /** Binds the instance to an app, or makes a service key called `key`. */
  createBinding(instance: ServiceInstance, target: { app: App } | { key: string }, parameters?: Record<string, unknown>): Promise<ServiceCredentialBinding> {
    const relationships = { service_instance: { data: { guid: instance.guid } }, ...('app' in target ? { app: { data: { guid: target.app.guid } } } : {}) };
    return this.client.call('POST', '/v3/service_credential_bindings', { type: 'app' in target ? 'app' : 'key', ...('key' in target ? { name: target.key } : {}), relationships, ...(parameters ? { parameters } : {}) });
  }

  async deleteBinding(binding: ServiceCredentialBinding): Promise<void> {
    await this.client.deleteAndWait(`/v3/service_credential_bindings/${binding.guid}`);
  }

  bindingDetails(binding: ServiceCredentialBinding): Promise<{ credentials: Record<string, unknown> }> {
    return this.client.call('GET', `/v3/service_credential_bindings/${binding.guid}/details`);
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
      const bound = bindings.filter((b) => b.relationships.service_instance.data.guid === instance.guid).map((b) => apps.find((a) => a.guid === b.relationships.app?.data.guid)?.name ?? '');
      return { instance, offering: instance.type === 'user-provided' ? 'user-provided' : offering?.name, plan: plan?.name, broker: broker?.name, apps: bound.filter((n) => n !== '') };
    });
  }
}
