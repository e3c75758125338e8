import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { followOperation } from '../cli/api/service-operations.js';
import { requireArg } from '../cli/prompts.js';

export default class UnbindService extends ApiCommand {
  static override aliases = ['us'];

  static override description = `Unbind a service instance from an app
The broker removes the binding in the background: without --wait the command returns once the broker has it, with --wait once it is gone.`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp mydb', '<%= config.bin %> <%= command.id %> myapp mydb --wait'];

  static override args = {
    app: Args.string({ description: 'app name' }),
    name: Args.string({ description: 'service instance name' }),
  };

  static override flags = { wait: Flags.boolean({ char: 'w', description: 'wait until the operation is complete' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UnbindService);
    const appName = await requireArg(args.app, 'APP_NAME', 'App name');
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const { client, target } = await this.targeted();
    const bin = this.config.bin;
    this.log(`Unbinding app ${appName} from service ${name} ${this.where(target)}...`);
    const [app, instance] = await client.services.appAndInstance(appName, name);
    const bindings = await client.services.bindings({ service_instance_guids: instance.guid, app_guids: app.guid });
    if (bindings.length === 0) {
      this.log(`Binding between ${name} and ${appName} did not exist`);
      return this.ok();
    }
    let outcome: 'done' | 'in progress' = 'done';
    for (const binding of bindings) {
      const location = await client.services.deleteBinding(binding);
      const status = async () => (await client.services.bindings({ service_instance_guids: instance.guid, app_guids: app.guid }))[0]?.last_operation;
      if (location && (await followOperation(client, location, { wait: flags.wait, steps: this.ui().steps, status, check: `'${bin} service ${name}'` })) === 'in progress') outcome = 'in progress';
    }
    this.ok();
    if (outcome === 'in progress') this.log(`Unbinding in progress. Use '${bin} service ${name}' to check operation status.`);
  }
}
