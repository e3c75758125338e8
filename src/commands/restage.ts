import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { renderAppSummary } from '../cli/app-view.js';
import { CliError } from '../cli/base-command.js';
import { deployAndWait, stagePackage, startAndWait, STRATEGIES } from '../cli/lifecycle.js';
import { requireArg } from '../cli/prompts.js';

export default class Restage extends ApiCommand {
  static override aliases = ['rg'];

  static override description = `Stage an app's newest upload again and restart it on the new droplet
Buildpacks run again with the app's current env variables and buildpack settings; the app is down from the restart until its new instances run, unless --strategy rolling replaces them one at a time.`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp', '<%= config.bin %> <%= command.id %> myapp --strategy rolling'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    strategy: Flags.string({ description: 'replace the instances with no downtime: rolling', options: [...STRATEGIES] }),
    'no-wait': Flags.boolean({ description: 'with --strategy rolling: return once a first new instance runs' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Restage);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    this.log(`Restaging app ${name} ${this.where(target)}...`);
    const app = await client.apps.get(name);
    const pkg = await client.builds.latestReadyPackage(app.guid);
    if (!pkg) throw new CliError(`App '${name}' has no uploaded files to stage. Push it first: '${this.config.bin} push ${name}'.`);
    const rolling = flags.strategy === 'rolling' && app.state === 'STARTED';
    if (!rolling) this.log('This action will cause app downtime.\n');
    const ui = this.ui();
    const staged = await stagePackage(client, app, pkg.guid, ui);
    if (rolling) {
      await deployAndWait(client, app, staged.droplet.guid, { noWait: flags['no-wait'] }, ui);
    } else {
      await client.apps.setCurrentDroplet(app.guid, staged.droplet.guid);
      await startAndWait(client, app, { restart: true }, ui);
    }
    this.log('');
    this.log(renderAppSummary(await client.apps.summary(name)));
  }
}
