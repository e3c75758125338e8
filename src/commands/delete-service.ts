import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { followOperation } from '../cli/api/service-operations.js';
import { confirmOrForce, requireArg } from '../cli/prompts.js';

export default class DeleteService extends ApiCommand {
  static override aliases = ['ds'];

  static override description = `Delete a service instance (asks first at a terminal; -f to skip the question, required in scripts)
Its broker deprovisions it in the background: without --wait the command returns once the broker has it, with --wait once it is gone. --purge forgets the instance with its bindings and keys without asking its broker (Cloud Foundry's purge): for a broker that is gone for good; whatever the broker still holds stays there.`;

  static override examples = ['<%= config.bin %> <%= command.id %> mydb', '<%= config.bin %> <%= command.id %> mydb -f --wait', '<%= config.bin %> <%= command.id %> mydb -f --purge'];

  static override args = { name: Args.string({ description: 'service instance name' }) };

  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'delete without asking' }),
    wait: Flags.boolean({ char: 'w', description: 'wait until the operation is complete' }),
    purge: Flags.boolean({ description: 'forget the instance, its bindings and keys without asking its broker (admins only)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(DeleteService);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const { client, target } = await this.targeted();
    const bin = this.config.bin;
    if (flags.purge) {
      const sure = await confirmOrForce(
        `WARNING: This assumes that the broker of service instance ${name} is no longer available or does not answer with 200 or 410, and that the instance has been deleted there. All knowledge of the instance, its bindings and its service keys is removed from devbox; its broker is not asked. Really purge service instance ${name}?`,
        { force: flags.force, refusal: `Not purging service instance ${name}: there is no terminal to ask. Use '${bin} delete-service ${name} --purge -f' to purge without asking.` },
      );
      if (!sure) return this.log('Purge cancelled');
      this.log(`Purging service instance ${name} ${this.where(target)}...\n`);
      const instance = await client.services.findInstance(name);
      if (!instance) this.log(`Service instance ${name} did not exist.`);
      else {
        await client.services.deleteInstance(instance, { purge: true });
        this.log(`Service instance ${name} purged.`);
      }
      return this.ok();
    }
    const sure = await confirmOrForce(`Really delete the service instance ${name}?`, {
      force: flags.force,
      refusal: `Not deleting service instance ${name}: there is no terminal to ask. Use '${bin} delete-service ${name} -f' to delete without asking.`,
    });
    if (!sure) return this.log('Delete cancelled');
    this.log(`Deleting service instance ${name} ${this.where(target)}...\n`);
    const instance = await client.services.findInstance(name);
    if (!instance) {
      this.log(`Service instance ${name} did not exist.`);
      return this.ok();
    }
    const location = await client.services.deleteInstance(instance);
    const status = async () => (await client.services.findInstance(name))?.last_operation;
    const outcome = location ? await followOperation(client, location, { wait: flags.wait, steps: this.ui().steps, status, check: `'${bin} service ${name}'` }) : 'done';
    this.log(outcome === 'done' ? `Service instance ${name} deleted.` : `Delete in progress. Use '${bin} services' or '${bin} service ${name}' to check operation status.`);
    this.ok();
  }
}
