import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { confirmOrForce, requireArg } from '../cli/prompts.js';

export default class DeleteServiceKey extends ApiCommand {
  static override aliases = ['dsk'];

  static override description = 'Delete a service key (asks first at a terminal; -f to skip the question, required in scripts)';

  static override examples = ['<%= config.bin %> <%= command.id %> mydb mykey -f'];

  static override args = {
    name: Args.string({ description: 'service instance name' }),
    key: Args.string({ description: 'service key name' }),
  };

  static override flags = { force: Flags.boolean({ char: 'f', description: 'delete without asking' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DeleteServiceKey);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const key = await requireArg(args.key, 'SERVICE_KEY', 'Service key name');
    const { client, target } = await this.targeted();
    const sure = await confirmOrForce(`Really delete the service key ${key}?`, {
      force: flags.force,
      refusal: `Not deleting service key ${key}: there is no terminal to ask. Use '${this.config.bin} delete-service-key ${name} ${key} -f' to delete without asking.`,
    });
    if (!sure) return this.log('Delete cancelled');
    this.log(`Deleting key ${key} for service instance ${name} as ${target.user}...`);
    const instance = await client.services.instance(name);
    const bindings = await client.services.bindings({ service_instance_guids: instance.guid, type: 'key', names: key });
    if (bindings.length === 0) this.log(`Service key ${key} does not exist for service instance ${name}.`);
    for (const binding of bindings) await client.services.deleteBinding(binding);
    this.ok();
  }
}
