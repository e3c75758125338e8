import { Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { table } from '../cli/output.js';

export default class Apps extends ApiCommand {
  static override aliases = ['a'];

  static override description = 'List all apps in the targeted space: requested state, processes (running/desired instances) and routes';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];

  static override flags = {
    json: Flags.boolean({ description: 'print the apps as JSON: [{guid, name, requested_state, processes: [{type, instances, running}], routes}]' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Apps);
    const { client, target } = await this.targeted();
    if (!flags.json) this.log(`Getting apps ${this.where(target)}...\n`);
    const apps = await client.apps.summaries();
    if (flags.json) {
      return this.printJson(
        apps.map(({ app, processes, routes }) => ({
          guid: app.guid,
          name: app.name,
          requested_state: app.state.toLowerCase(),
          processes: processes.map(({ type, instances, running }) => ({ type, instances, running })),
          routes,
        })),
      );
    }
    if (apps.length === 0) return this.log('No apps found');
    this.log(
      table(
        ['name', 'requested state', 'processes', 'routes'],
        apps.map(({ app, processes, routes }) => [app.name, app.state.toLowerCase(), processes.map((p) => `${p.type}:${p.running}/${p.instances}`).join(', '), routes.join(', ')]),
      ),
    );
  }
}
