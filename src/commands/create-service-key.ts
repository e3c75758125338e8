import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { createFailed, followOperation } from '../cli/api/service-operations.js';
import { jsonObjectArg } from '../cli/json-arg.js';
import { requireArg } from '../cli/prompts.js';

export default class CreateServiceKey extends ApiCommand {
  static override aliases = ['csk'];

  static override description = `Create a service key: credentials for a service instance, for use outside apps
The broker makes it in the background: without --wait the command returns once the broker has it, with --wait once it is made ('service-key' then shows it).`;

  static override examples = ['<%= config.bin %> <%= command.id %> mydb mykey', '<%= config.bin %> <%= command.id %> mydb mykey --wait'];

  static override args = {
    name: Args.string({ description: 'service instance name' }),
    key: Args.string({ description: 'service key name' }),
  };

  static override flags = {
    config: Flags.string({ char: 'c', description: 'binding parameters for the broker: a JSON object, or a file holding one' }),
    wait: Flags.boolean({ char: 'w', description: 'wait until the operation is complete' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CreateServiceKey);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const key = await requireArg(args.key, 'SERVICE_KEY', 'Service key name');
    const parameters = flags.config === undefined ? undefined : await jsonObjectArg(flags.config, '-c');
    const { client, target } = await this.targeted();
    this.log(`Creating service key ${key} for service instance ${name} as ${target.user}...`);
    const instance = await client.services.instance(name);
    const keys = () => client.services.bindings({ service_instance_guids: instance.guid, type: 'key', names: key });
    if ((await keys()).some((b) => !createFailed(b.last_operation))) {
      this.log(`Service key ${key} already exists`);
      return this.ok();
    }
    const { location } = await client.services.startBinding(instance, { key }, parameters);
    const status = async () => (await keys())[0]?.last_operation;
    const outcome = location ? await followOperation(client, location, { wait: flags.wait, steps: this.ui().steps, status, check: `'${this.config.bin} service-keys ${name}'` }) : 'done';
    this.ok();
    if (outcome === 'in progress') this.log('Create in progress.');
  }
}
