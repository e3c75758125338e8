import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { followOperation } from '../cli/api/service-operations.js';
import { confirmOrForce, requireArg } from '../cli/prompts.js';

export default class DeleteServiceKey extends ApiCommand {
  static override aliases = ['dsk'];

  static override description = `Delete a service key (asks first at a terminal; -f to skip the question, required in scripts)
The broker deletes it in the background: without --wait the command returns once the broker has it, with --wait once it is gone.`;

  static override examples = ['<%= config.bin %> <%= command.id %> mydb mykey -f', '<%= config.bin %> <%= command.id %> mydb mykey -f --wait'];

  static override args = {
    name: Args.string({ description: 'service instance name' }),
    key: Args.string({ description: 'service key name' }),
  };

  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'delete without asking' }),
    wait: Flags.boolean({ char: 'w', description: 'wait until the operation is complete' }),
  };

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
    const keys = () => client.services.bindings({ service_instance_guids: instance.guid, type: 'key', names: key });
    const bindings = await keys();
    if (bindings.length === 0) this.log(`Service key ${key} does not exist for service instance ${name}.`);
    let outcome: 'done' | 'in progress' = 'done';
    for (const binding of bindings) {
      const location = await client.services.deleteBinding(binding);
      const status = async () => (await keys())[0]?.last_operation;
      if (location && (await followOperation(client, location, { wait: flags.wait, steps: this.ui().steps, status, check: `'${this.config.bin} service-keys ${name}'` })) === 'in progress') outcome = 'in progress';
    }
    this.ok();
    if (outcome === 'in progress') this.log('Delete in progress.');
  }
}
