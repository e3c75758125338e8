import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { routeUrl } from '../cli/api/routes.js';
import { requireArg } from '../cli/prompts.js';

export default class MapRoute extends ApiCommand {
  static override description = 'Map a route to an app (the route is created when it does not exist)';

  static override examples = [
    '<%= config.bin %> <%= command.id %> myapp localhost --hostname myapp',
    '<%= config.bin %> <%= command.id %> myapp localhost --hostname shop --path /api',
  ];

  static override args = {
    app: Args.string({ description: 'app name' }),
    domain: Args.string({ description: 'domain, e.g. localhost' }),
  };

  static override flags = {
    hostname: Flags.string({ char: 'n', description: 'hostname of the route (required on the shared domain)' }),
    path: Flags.string({ description: 'path of the route, e.g. /api' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(MapRoute);
    const app = await requireArg(args.app, 'APP_NAME', 'App name');
    const domain = await requireArg(args.domain, 'DOMAIN', 'Domain');
    const spec = { domain, host: flags.hostname, path: flags.path };
    const { client, target } = await this.targeted();
    const url = routeUrl(spec);
    const result = await client.routes.mapByName(app, spec);
    if (result.created) {
      this.log(`Creating route ${url} for org ${target.org.name} / space ${target.space.name} as ${target.user}...`);
      this.ok();
    }
    this.log(`Mapping route ${result.url} to app ${app} ${this.where(target)}...`);
    if (result.alreadyMapped) this.log(`App '${app}' is already mapped to route '${result.url}'.`);
    this.ok();
  }
}
