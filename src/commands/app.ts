import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { appBuildpacks, renderAppSummary } from '../cli/app-view.js';
import { requireArg } from '../cli/prompts.js';

export default class App extends ApiCommand {
  static override description = `Show an app: requested state, routes, last upload, stack, buildpacks, and each process's instances, memory and start command
A started app also shows its instances as the DEAs report them: state, since, cpu, memory and disk per instance.`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp', '<%= config.bin %> <%= command.id %> myapp --json'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    json: Flags.boolean({ description: 'print the summary as JSON' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(App);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    if (!flags.json) this.log(`Showing health and status for app ${name} ${this.where(target)}...\n`);
    const summary = await client.apps.summary(name);
    const { app, processes, routes, droplet } = summary;
    if (flags.json) {
      return this.printJson({
        guid: app.guid,
        name: app.name,
        requested_state: app.state.toLowerCase(),
        routes,
        last_uploaded: droplet?.created_at ?? null,
        stack: app.lifecycle.data.stack,
        buildpacks: appBuildpacks(summary),
        processes,
      });
    }
    this.log(renderAppSummary(summary));
  }
}
