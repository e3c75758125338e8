import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { confirmOrForce, requireArg } from '../cli/prompts.js';

export default class DeleteService extends ApiCommand {
  static override aliases = ['ds'];

  static override description = 'Delete a service instance (asks first at a terminal; -f to skip the question, required in scripts)';

  static override examples = ['<%= config.bin %> <%= command.id %> mydb', '<%= config.bin %> <%= command.id %> mydb -f'];

  static override args = { name: Args.string({ description: 'service instance name' }) };

  static override flags = { force: Flags.boolean({ char: 'f', description: 'delete without asking' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DeleteService);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const { client, target } = await this.targeted();
    const sure = await confirmOrForce(`Really delete the service instance ${name}?`, {
      force: flags.force,
      refusal: `Not deleting service instance ${name}: there is no terminal to ask. Use '${this.config.bin} delete-service ${name} -f' to delete without asking.`,
    });
    if (!sure) return this.log('Delete cancelled');
    this.log(`Deleting service instance ${name} ${this.where(target)}...`);
    const instance = await client.services.findInstance(name);
    if (!instance) this.log(`Service instance ${name} did not exist.`);
    else await client.services.deleteInstance(instance);
    this.ok();
  }
}
