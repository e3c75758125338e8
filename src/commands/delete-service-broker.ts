import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { confirmOrForce, requireArg } from '../cli/prompts.js';

export default class DeleteServiceBroker extends ApiCommand {
  static override description = `Delete a service broker (asks first at a terminal; -f to skip the question, required in scripts)
Its offerings and plans leave the marketplace. A broker with service instances is not deleted: delete them first ('delete-service', or with --purge when the broker is gone for good).`;

  static override examples = ['<%= config.bin %> <%= command.id %> my-broker -f'];

  static override args = { name: Args.string({ description: 'broker name' }) };

  static override flags = { force: Flags.boolean({ char: 'f', description: 'delete without asking' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DeleteServiceBroker);
    const name = await requireArg(args.name, 'SERVICE_BROKER', 'Broker name');
    const client = await this.client();
    const sure = await confirmOrForce(`Really delete the service broker ${name}?`, {
      force: flags.force,
      refusal: `Not deleting service broker ${name}: there is no terminal to ask. Use '${this.config.bin} delete-service-broker ${name} -f' to delete without asking.`,
    });
    if (!sure) return this.log('Delete cancelled');
    this.log(`Deleting service broker ${name} as ${client.user}...`);
    const broker = await client.services.findBroker(name);
    if (!broker) this.log(`Service broker ${name} does not exist.`);
    else await client.services.deleteBroker(broker);
    this.ok();
  }
}
