import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { renderAppSummary } from '../cli/app-view.js';
import { startAndWait } from '../cli/lifecycle.js';
import { requireArg } from '../cli/prompts.js';

export default class Restart extends ApiCommand {
  static override description = `Restart an app: stop it, start it, and wait until its instances run
New instances pick up env changes (a new droplet needs 'restage'). Like start, it needs a droplet; without one the app is left stopped and the API's reason is shown.`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Restart);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    this.log(`Restarting app ${name} ${this.where(target)}...`);
    const app = await client.apps.get(name);
    const ui = this.ui();
    await startAndWait(client, app, { restart: true }, ui);
    this.log('');
    this.log(renderAppSummary(await client.apps.summary(name)));
  }
}
