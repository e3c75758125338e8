import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { routeUrl } from '../cli/api/routes.js';
import { requireArg } from '../cli/prompts.js';

export default class UnmapRoute extends ApiCommand {
  static override description = 'Remove a route from an app (the route itself stays; delete the app with -r to remove routes)';

  static override examples = ['<%= config.bin %> <%= command.id %> myapp localhost --hostname myapp'];

  static override args = {
    app: Args.string({ description: 'app name' }),
    domain: Args.string({ description: 'domain, e.g. localhost' }),
  };

  static override flags = {
    hostname: Flags.string({ char: 'n', description: 'hostname of the route' }),
    path: Flags.string({ description: 'path of the route, e.g. /api' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UnmapRoute);
    const app = await requireArg(args.app, 'APP_NAME', 'App name');
    const domain = await requireArg(args.domain, 'DOMAIN', 'Domain');
    const spec = { domain, host: flags.hostname, path: flags.path };
    const { client, target } = await this.targeted();
    this.log(`Removing route ${routeUrl(spec)} from app ${app} ${this.where(target)}...`);
    const result = await client.routes.unmapByName(app, spec);
    if (!result.mapped) this.log('Route to be unmapped is not currently mapped to the application.');
    this.ok();
  }
}
