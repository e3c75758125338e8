import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class SshEnabled extends ApiCommand {
  static override description = `Reports whether SSH is enabled on an application container instance
When it is not, the next line says why: the space or the app has it off.`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(SshEnabled);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client } = await this.targeted();
    const app = await client.apps.get(name);
    const status = await client.ssh.enabled(app.guid);
    if (status.enabled) {
      this.log(`ssh support is enabled for app '${name}'.`);
    } else {
      this.log(`ssh support is disabled for app '${name}'.`);
      this.log(status.reason);
    }
  }
}
