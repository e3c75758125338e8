import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { renderAppSummary } from '../cli/app-view.js';
import { stagePackage, startAndWait } from '../cli/lifecycle.js';
import { requireArg } from '../cli/prompts.js';

export default class Start extends ApiCommand {
  static override aliases = ['st'];

  static override description = `Start an app and wait until its instances run
An app pushed with --no-start (files uploaded, never staged) is staged first. An app without any upload cannot start: the API's reason is shown.`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Start);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    this.log(`Starting app ${name} ${this.where(target)}...`);
    const app = await client.apps.get(name);
    if (app.state === 'STARTED') {
      this.log(`App '${name}' is already started.`);
      return this.ok();
    }
    const ui = this.ui();
    // cf stages an app that has files but no droplet yet (push --no-start) before starting it.
    if (!(await client.apps.currentDroplet(app.guid))) {
      const pkg = await client.builds.latestReadyPackage(app.guid);
      if (pkg) {
        const staged = await stagePackage(client, app, pkg.guid, ui);
        await client.apps.setCurrentDroplet(app.guid, staged.droplet.guid);
      }
    }
    await startAndWait(client, app, { restart: false }, ui);
    this.log('');
    this.log(renderAppSummary(await client.apps.summary(name)));
  }
}
