import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { CliError } from '../cli/base-command.js';
import { json } from '../cli/output.js';
import { requireArg } from '../cli/prompts.js';

export default class ServiceKey extends ApiCommand {
  static override description = "Show a service key's credentials";

  static override examples = ['<%= config.bin %> <%= command.id %> mydb mykey', '<%= config.bin %> <%= command.id %> mydb mykey --guid'];

  static override args = {
    name: Args.string({ description: 'service instance name' }),
    key: Args.string({ description: 'service key name' }),
  };

  static override flags = { guid: Flags.boolean({ description: 'print only the key guid' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ServiceKey);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const key = await requireArg(args.key, 'SERVICE_KEY', 'Service key name');
    const { client, target } = await this.targeted();
    const instance = await client.services.instance(name);
    const [binding] = await client.services.bindings({ service_instance_guids: instance.guid, type: 'key', names: key });
    if (!binding) throw new CliError(`No service key ${key} found for service instance ${name}. 'devbox create-service-key ${name} ${key}' creates it.`);
    if (flags.guid) return this.log(binding.guid);
    this.log(`Getting key ${key} for service instance ${name} as ${target.user}...\n`);
    this.log(json((await client.services.bindingDetails(binding)).credentials));
  }
}
