import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { createFailed, followOperation, tagsArg } from '../cli/api/service-operations.js';
import { ApiRequestError } from '../cli/api/transport.js';
import { jsonObjectArg } from '../cli/json-arg.js';
import { CliError } from '../cli/base-command.js';
import { choose, requireArg } from '../cli/prompts.js';

export default class CreateService extends ApiCommand {
  static override aliases = ['cs'];

  static override description = `Create a service instance from an offering's plan (see 'marketplace')
The broker provisions it in the background: without --wait the command returns once the broker has it (a slow or asynchronous one may still be working: 'services' shows how it goes); with --wait it waits until the instance is ready. At a terminal a missing plan is asked for from the offering's plans.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> p-mysql small mydb',
    `<%= config.bin %> <%= command.id %> p-mysql small mydb -c '{"key":"value"}' -t "db, mysql"`,
    '<%= config.bin %> <%= command.id %> my-db tiny mydb -b my-broker --wait',
  ];

  static override args = {
    offering: Args.string({ description: 'service offering name' }),
    plan: Args.string({ description: 'plan name' }),
    name: Args.string({ description: 'name of the new service instance' }),
  };

  static override flags = {
    broker: Flags.string({ char: 'b', description: 'the broker of the offering (needed when several brokers offer its name)' }),
    config: Flags.string({ char: 'c', description: 'parameters for the broker: a JSON object, or a file holding one' }),
    tags: Flags.string({ char: 't', description: 'user tags, separated by commas' }),
    wait: Flags.boolean({ char: 'w', description: 'wait until the operation is complete' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CreateService);
    const offeringName = await requireArg(args.offering, 'SERVICE_OFFERING', 'Service offering');
    const { client, target } = await this.targeted();
    let planName = args.plan;
    let name = args.name;
    // `create-service OFFERING NAME` at a terminal: the plan is what is missing.
    if (name === undefined && planName !== undefined) {
      const { plans } = await client.services.resolvePlan(offeringName, undefined, flags.broker);
      if (!plans.some((p) => p.name === planName)) {
        name = planName;
        planName = undefined;
      }
    }
    if (planName === undefined) {
      const { plans } = await client.services.resolvePlan(offeringName, undefined, flags.broker);
      planName = await choose('Plan', plans.map((p) => ({ name: `${p.name} (${p.description})`, value: p.name })));
      if (planName === undefined) throw new CliError('Incorrect Usage: the required argument PLAN was not provided (and there is no terminal to ask at).', 2);
    }
    name = await requireArg(name, 'SERVICE_INSTANCE', 'Service instance name');
    const parameters = flags.config === undefined ? undefined : await jsonObjectArg(flags.config, '-c');
    const { plan } = await client.services.resolvePlan(offeringName, planName, flags.broker);
    this.log(`Creating service instance ${name} in org ${target.org.name} / space ${target.space.name} as ${target.user}...`);
    const exists = () => {
      this.log(`Service instance ${name} already exists`);
      this.ok();
    };
    const existing = await client.services.findInstance(name);
    // A create that failed holds the name until a new create replaces it (as Cloud Controller does).
    if (existing && !createFailed(existing.last_operation)) return exists();
    let location: string;
    try {
      location = await client.services.createManagedInstance(name, plan!.guid, { parameters, tags: flags.tags === undefined ? undefined : tagsArg(flags.tags) });
    } catch (error) {
      // Another create of the name got there first.
      if (error instanceof ApiRequestError && error.title === 'CF-UniquenessError') return exists();
      throw error;
    }
    this.log('');
    const status = async () => (await client.services.findInstance(name))?.last_operation;
    const outcome = await followOperation(client, location, { wait: flags.wait, steps: this.ui().steps, status, check: `'${this.config.bin} service ${name}'` });
    this.log(outcome === 'done' ? `Service instance ${name} created.` : `Create in progress. Use '${this.config.bin} services' or '${this.config.bin} service ${name}' to check operation status.`);
    this.ok();
  }
}
