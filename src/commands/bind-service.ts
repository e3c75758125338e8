import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { createFailed, followOperation } from '../cli/api/service-operations.js';
import { jsonObjectArg } from '../cli/json-arg.js';
import { requireArg } from '../cli/prompts.js';

export default class BindService extends ApiCommand {
  static override aliases = ['bs'];

  static override description = `Bind a service instance to an app: its credentials reach the app in VCAP_SERVICES
The broker makes the binding in the background (without --wait the command returns once the broker has it; with --wait once it is made). The app sees the credentials after a restage (or restart).`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp mydb', '<%= config.bin %> <%= command.id %> myapp mydb --binding-name db -w'];

  static override args = {
    app: Args.string({ description: 'app name' }),
    name: Args.string({ description: 'service instance name' }),
  };

  static override flags = {
    config: Flags.string({ char: 'c', description: 'binding parameters for the broker: a JSON object, or a file holding one' }),
    'binding-name': Flags.string({ description: "the binding's name in VCAP_SERVICES (default: the service instance's name)" }),
    wait: Flags.boolean({ char: 'w', description: 'wait until the operation is complete' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BindService);
    const appName = await requireArg(args.app, 'APP_NAME', 'App name');
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const parameters = flags.config === undefined ? undefined : await jsonObjectArg(flags.config, '-c');
    const { client, target } = await this.targeted();
    const bin = this.config.bin;
    this.log(`Binding service instance ${name} to app ${appName} ${this.where(target)}...`);
    const [app, instance] = await client.services.appAndInstance(appName, name);
    const existing = await client.services.bindings({ service_instance_guids: instance.guid, app_guids: app.guid });
    if (existing.some((b) => !createFailed(b.last_operation))) {
      this.log(`App ${appName} is already bound to service instance ${name}.`);
      return this.ok();
    }
    const { location } = await client.services.startBinding(instance, { app, name: flags['binding-name'] }, parameters);
    const status = async () => (await client.services.bindings({ service_instance_guids: instance.guid, app_guids: app.guid }))[0]?.last_operation;
    const outcome = location ? await followOperation(client, location, { wait: flags.wait, steps: this.ui().steps, status, check: `'${bin} service ${name}'` }) : 'done';
    this.ok();
    if (outcome === 'in progress') {
      this.log(`Binding in progress. Use '${bin} service ${name}' to check operation status.\n`);
      return this.log(`TIP: Once this operation succeeds, use '${bin} restage ${appName}' to ensure your env variable changes take effect`);
    }
    this.log(`\nTIP: Use '${bin} restage ${appName}' to ensure your env variable changes take effect`);
  }
}
