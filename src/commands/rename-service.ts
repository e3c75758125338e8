import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class RenameService extends ApiCommand {
  static override description = `Rename a service instance
Apps bound to it see the new name in VCAP_SERVICES at their next restage or restart.`;

  static override examples = ['<%= config.bin %> <%= command.id %> mydb orders-db'];

  static override args = {
    name: Args.string({ description: 'service instance name' }),
    newName: Args.string({ description: 'its new name' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(RenameService);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const newName = await requireArg(args.newName, 'NEW_SERVICE_INSTANCE', 'New name');
    const { client, target } = await this.targeted();
    this.log(`Renaming service ${name} to ${newName} ${this.where(target)}...`);
    const instance = await client.services.instance(name);
    await client.services.updateInstance(instance, { name: newName });
    this.ok();
  }
}
