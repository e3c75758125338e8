import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { renderAppSummary } from '../cli/app-view.js';
import { CliError } from '../cli/base-command.js';
import { stagePackage, startAndWait } from '../cli/lifecycle.js';
import { requireArg } from '../cli/prompts.js';

export default class Restage extends ApiCommand {
  static override description = `Stage an app's newest upload again and restart it on the new droplet
Buildpacks run again with the app's current env variables and buildpack settings; the app is down from the restart until its new instances run.`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Restage);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    this.log(`Restaging app ${name} ${this.where(target)}...`);
    const app = await client.apps.get(name);
    const pkg = await client.builds.latestReadyPackage(app.guid);
    if (!pkg) throw new CliError(`App '${name}' has no uploaded files to stage. Push it first: '${this.config.bin} push ${name}'.`);
    this.log('This action will cause app downtime.\n');
    const ui = this.ui();
    const staged = await stagePackage(client, app, pkg.guid, ui);
    await client.apps.setCurrentDroplet(app.guid, staged.droplet.guid);
    await startAndWait(client, app, { restart: true }, ui);
    this.log('');
    this.log(renderAppSummary(await client.apps.summary(name)));
  }
}
