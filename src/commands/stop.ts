import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class Stop extends ApiCommand {
  static override aliases = ['sp'];

  static override description = 'Stop an app: set its requested state to stopped';

  static override examples = ['<%= config.bin %> <%= command.id %> myapp'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Stop);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    this.log(`Stopping app ${name} ${this.where(target)}...`);
    const app = await client.apps.get(name);
    if (app.state === 'STOPPED') this.log(`App '${name}' is already stopped.`);
    else await client.apps.stop(app.guid);
    this.ok();
  }
}
