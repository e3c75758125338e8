import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { jsonObjectArg } from '../cli/json-arg.js';
import { CliError } from '../cli/base-command.js';
import { choose, requireArg } from '../cli/prompts.js';

export default class CreateService extends ApiCommand {
  static override aliases = ['cs'];

  static override description = `Create a service instance from an offering's plan (see 'marketplace')
At a terminal a missing plan is asked for from the offering's plans.`;

  static override examples = ['<%= config.bin %> <%= command.id %> p-mysql small mydb', `<%= config.bin %> <%= command.id %> p-mysql small mydb -c '{"key":"value"}'`];

  static override args = {
    offering: Args.string({ description: 'service offering name' }),
    plan: Args.string({ description: 'plan name' }),
    name: Args.string({ description: 'name of the new service instance' }),
  };

  static override flags = {
    config: Flags.string({ char: 'c', description: 'parameters for the broker: a JSON object, or a file holding one' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CreateService);
    const offeringName = await requireArg(args.offering, 'SERVICE_OFFERING', 'Service offering');
    const { client, target } = await this.targeted();
    let planName = args.plan;
    let name = args.name;
    // `create-service OFFERING NAME` at a terminal: the plan is what is missing.
    if (name === undefined && planName !== undefined) {
      const { plans } = await client.services.resolvePlan(offeringName);
      if (!plans.some((p) => p.name === planName)) {
        name = planName;
        planName = undefined;
      }
    }
    if (planName === undefined) {
      const { plans } = await client.services.resolvePlan(offeringName);
      planName = await choose('Plan', plans.map((p) => ({ name: `${p.name} (${p.description})`, value: p.name })));
      if (planName === undefined) throw new CliError('Incorrect Usage: the required argument PLAN was not provided (and there is no terminal to ask at).', 2);
    }
    name = await requireArg(name, 'SERVICE_INSTANCE', 'Service instance name');
    const parameters = flags.config === undefined ? undefined : await jsonObjectArg(flags.config, '-c');
    const { plan } = await client.services.resolvePlan(offeringName, planName);
    this.log(`Creating service instance ${name} in org ${target.org.name} / space ${target.space.name} as ${target.user}...`);
    if (await client.services.findInstance(name)) {
      this.log(`Service instance ${name} already exists`);
      return this.ok();
    }
    await client.services.createManagedInstance(name, plan!.guid, parameters);
    this.ok();
  }
}
