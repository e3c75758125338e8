import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class SetEnv extends ApiCommand {
  static override aliases = ['se'];

  static override description = `Set an env variable for an app
It reaches the app's instances when they start next; restage the app so that its buildpack sees it too.`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp LOG_LEVEL debug'];

  static override args = {
    app: Args.string({ description: 'app name' }),
    name: Args.string({ description: 'variable name' }),
    value: Args.string({ description: 'value' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(SetEnv);
    const app = await requireArg(args.app, 'APP_NAME', 'App name');
    const key = await requireArg(args.name, 'ENV_VAR_NAME', 'Variable name');
    const value = args.value ?? (await requireArg(undefined, 'ENV_VAR_VALUE', 'Value'));
    const { client, target } = await this.targeted();
    this.log(`Setting env variable ${key} for app ${app} ${this.where(target)}...`);
    const found = await client.apps.get(app);
    await client.apps.updateEnvironmentVariables(found.guid, { [key]: value });
    this.ok();
    this.log(`TIP: Use '${this.config.bin} restage ${app}' to ensure your env variable changes take effect`);
  }
}
