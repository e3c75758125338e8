import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { jsonObjectArg } from '../cli/json-arg.js';
import { requireArg } from '../cli/prompts.js';

export default class CreateServiceKey extends ApiCommand {
  static override aliases = ['csk'];

  static override description = 'Create a service key: credentials for a service instance, for use outside apps';

  static override examples = ['<%= config.bin %> <%= command.id %> mydb mykey'];

  static override args = {
    name: Args.string({ description: 'service instance name' }),
    key: Args.string({ description: 'service key name' }),
  };

  static override flags = {
    config: Flags.string({ char: 'c', description: 'binding parameters for the broker: a JSON object, or a file holding one' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CreateServiceKey);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const key = await requireArg(args.key, 'SERVICE_KEY', 'Service key name');
    const parameters = flags.config === undefined ? undefined : await jsonObjectArg(flags.config, '-c');
    const { client, target } = await this.targeted();
    this.log(`Creating service key ${key} for service instance ${name} as ${target.user}...`);
    const instance = await client.services.instance(name);
    const existing = await client.services.bindings({ service_instance_guids: instance.guid, type: 'key', names: key });
    if (existing.length) {
      this.log(`Service key ${key} already exists`);
      return this.ok();
    }
    await client.services.createBinding(instance, { key }, parameters);
    this.ok();
  }
}
