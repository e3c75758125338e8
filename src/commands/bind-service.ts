import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { jsonObjectArg } from '../cli/json-arg.js';
import { requireArg } from '../cli/prompts.js';

export default class BindService extends ApiCommand {
  static override aliases = ['bs'];

  static override description = `Bind a service instance to an app: its credentials reach the app in VCAP_SERVICES
The app sees them after a restage (or restart).`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp mydb'];

  static override args = {
    app: Args.string({ description: 'app name' }),
    name: Args.string({ description: 'service instance name' }),
  };

  static override flags = {
    config: Flags.string({ char: 'c', description: 'binding parameters for the broker: a JSON object, or a file holding one' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BindService);
    const appName = await requireArg(args.app, 'APP_NAME', 'App name');
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const parameters = flags.config === undefined ? undefined : await jsonObjectArg(flags.config, '-c');
    const { client, target } = await this.targeted();
    this.log(`Binding service instance ${name} to app ${appName} ${this.where(target)}...`);
    const [app, instance] = await client.services.appAndInstance(appName, name);
    const existing = await client.services.bindings({ service_instance_guids: instance.guid, app_guids: app.guid });
    if (existing.length) {
      this.log(`App ${appName} is already bound to service instance ${name}.`);
      return this.ok();
    }
    await client.services.createBinding(instance, { app }, parameters);
    this.ok();
    this.log(`\nTIP: Use '${this.config.bin} restage ${appName}' to ensure your env variable changes take effect`);
  }
}
