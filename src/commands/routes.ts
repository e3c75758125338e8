import { Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { table } from '../cli/output.js';

export default class Routes extends ApiCommand {
  static override aliases = ['r'];

  static override description = 'List all routes in the targeted space and the apps they are mapped to';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];

  static override flags = {
    json: Flags.boolean({ description: 'print the routes as JSON: [{guid, url, space, host, domain, path, apps}]' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Routes);
    const { client, target } = await this.targeted();
    if (!flags.json) this.log(`Getting routes for org ${target.org.name} / space ${target.space.name} as ${target.user}...\n`);
    const routes = await client.routes.summaries();
    if (flags.json) {
      return this.printJson(routes.map(({ route, space, domain, apps }) => ({ guid: route.guid, url: route.url, space, host: route.host, domain, path: route.path, apps })));
    }
    if (routes.length === 0) return this.log('No routes found.');
    this.log(table(['space', 'host', 'domain', 'path', 'apps'], routes.map(({ route, space, domain, apps }) => [space, route.host, domain, route.path, apps.join(', ')])));
  }
}
