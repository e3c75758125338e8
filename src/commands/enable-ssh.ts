import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class EnableSsh extends ApiCommand {
  static override description = `Enable ssh for the application
Users who may (space developers) can then ssh into its instances, when the space allows ssh too (allow-space-ssh).`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(EnableSsh);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client } = await this.targeted();
    this.log(`Enabling ssh support for app ${name} as ${client.user}...`);
    const app = await client.apps.get(name);
    // cf says so, and sets it all the same.
    if ((await client.ssh.appFeature(app.guid)).enabled) this.log(`ssh support for app '${name}' is already enabled.`);
    await client.ssh.setAppFeature(app.guid, true);
    const status = await client.ssh.enabled(app.guid);
    this.ok();
    if (!status.enabled) this.log('TIP: Ensure ssh is also enabled on the space and global level.');
  }
}
