import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { renderAppSummary } from '../cli/app-view.js';
import { deployAndWait, startAndWait, STRATEGIES } from '../cli/lifecycle.js';
import { requireArg } from '../cli/prompts.js';

export default class Restart extends ApiCommand {
  static override aliases = ['rs'];

  static override description = `Restart an app: stop it, start it, and wait until its instances run
New instances pick up env changes (a new droplet needs 'restage'). Like start, it needs a droplet; without one the app is left stopped and the API's reason is shown.
With --strategy rolling the web instances are replaced one at a time, each new one healthy before the old one at its index stops, so the app keeps answering (a rolling deployment).`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp', '<%= config.bin %> <%= command.id %> myapp --strategy rolling'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    strategy: Flags.string({ description: 'replace the instances with no downtime: rolling', options: [...STRATEGIES] }),
    'no-wait': Flags.boolean({ description: 'with --strategy rolling: return once a first new instance runs' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Restart);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    this.log(`Restarting app ${name} ${this.where(target)}...`);
    const app = await client.apps.get(name);
    const ui = this.ui();
    if (flags.strategy === 'rolling' && app.state === 'STARTED') await deployAndWait(client, app, undefined, { noWait: flags['no-wait'] }, ui);
    else await startAndWait(client, app, { restart: true }, ui);
    this.log('');
    this.log(renderAppSummary(await client.apps.summary(name)));
  }
}
