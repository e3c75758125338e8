import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { followOperation, tagsArg } from '../cli/api/service-operations.js';
import { CliError } from '../cli/base-command.js';
import { jsonObjectArg } from '../cli/json-arg.js';
import { requireArg } from '../cli/prompts.js';

export default class UpdateService extends ApiCommand {
  static override description = `Update a service instance: its plan (-p), the broker's parameters (-c), its tags (-t)
A plan or parameters are its broker's to change, in the background: without --wait the command returns once the broker has the update, with --wait once it is done. Tags change at once.`;

  static override examples = ['<%= config.bin %> <%= command.id %> mydb -p big', `<%= config.bin %> <%= command.id %> mydb -c '{"size":"xl"}' --wait`, '<%= config.bin %> <%= command.id %> mydb -t "db, orders"'];

  static override args = { name: Args.string({ description: 'service instance name' }) };

  static override flags = {
    plan: Flags.string({ char: 'p', description: "a plan of the instance's offering to change to" }),
    config: Flags.string({ char: 'c', description: 'parameters for the broker: a JSON object, or a file holding one' }),
    tags: Flags.string({ char: 't', description: 'user tags, separated by commas (they replace the current ones)' }),
    wait: Flags.boolean({ char: 'w', description: 'wait until the operation is complete' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UpdateService);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    if (flags.plan === undefined && flags.config === undefined && flags.tags === undefined) {
      this.log('No flags specified. No changes were made.');
      return this.ok();
    }
    const parameters = flags.config === undefined ? undefined : await jsonObjectArg(flags.config, '-c');
    const { client, target } = await this.targeted();
    const bin = this.config.bin;
    this.log(`Updating service instance ${name} ${this.where(target)}...\n`);
    const instance = await client.services.instance(name);
    if (instance.type !== 'managed') throw new CliError(`Service instance ${name} is user-provided: use '${bin} update-user-provided-service ${name}' to change it.`);
    const plan = flags.plan === undefined ? undefined : await client.services.planOfInstanceOffering(instance, flags.plan);
    const { location } = await client.services.updateInstance(instance, {
      ...(plan ? { relationships: { service_plan: { data: { guid: plan.guid } } } } : {}),
      ...(parameters ? { parameters } : {}),
      ...(flags.tags !== undefined ? { tags: tagsArg(flags.tags) } : {}),
    });
    const status = async () => (await client.services.findInstance(name))?.last_operation;
    const outcome = location ? await followOperation(client, location, { wait: flags.wait, steps: this.ui().steps, status, check: `'${bin} service ${name}'` }) : 'done';
    this.log(outcome === 'done' ? `Update of service instance ${name} complete.` : `Update in progress. Use '${bin} services' or '${bin} service ${name}' to check operation status.`);
    this.ok();
  }
}
