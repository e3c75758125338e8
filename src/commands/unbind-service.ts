import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class UnbindService extends ApiCommand {
  static override aliases = ['us'];

  static override description = 'Unbind a service instance from an app';

  static override examples = ['<%= config.bin %> <%= command.id %> myapp mydb'];

  static override args = {
    app: Args.string({ description: 'app name' }),
    name: Args.string({ description: 'service instance name' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(UnbindService);
    const appName = await requireArg(args.app, 'APP_NAME', 'App name');
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const { client, target } = await this.targeted();
    this.log(`Unbinding app ${appName} from service ${name} ${this.where(target)}...`);
    const [app, instance] = await client.services.appAndInstance(appName, name);
    const bindings = await client.services.bindings({ service_instance_guids: instance.guid, app_guids: app.guid });
    if (bindings.length === 0) this.log(`Binding between ${name} and ${appName} did not exist`);
    for (const binding of bindings) await client.services.deleteBinding(binding);
    this.ok();
  }
}
