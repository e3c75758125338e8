import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class DisableSsh extends ApiCommand {
  static override description = `Disable ssh for the application
Sessions already open go on; new ones are refused.`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(DisableSsh);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client } = await this.targeted();
    this.log(`Disabling ssh support for app ${name} as ${client.user}...`);
    const app = await client.apps.get(name);
    // cf says so, and sets it all the same.
    if (!(await client.ssh.appFeature(app.guid)).enabled) this.log(`ssh support for app '${name}' is already disabled.`);
    await client.ssh.setAppFeature(app.guid, false);
    this.ok();
  }
}
