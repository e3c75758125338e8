import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class UnsetEnv extends ApiCommand {
  static override aliases = ['ue'];

  static override description = 'Remove an env variable from an app';

  static override examples = ['<%= config.bin %> <%= command.id %> myapp LOG_LEVEL'];

  static override args = {
    app: Args.string({ description: 'app name' }),
    name: Args.string({ description: 'variable name' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(UnsetEnv);
    const app = await requireArg(args.app, 'APP_NAME', 'App name');
    const key = await requireArg(args.name, 'ENV_VAR_NAME', 'Variable name');
    const { client, target } = await this.targeted();
    this.log(`Removing env variable ${key} from app ${app} ${this.where(target)}...`);
    const found = await client.apps.get(app);
    const current = await client.apps.environmentVariables(found.guid);
    if (!(key in current)) {
      this.log(`Env variable ${key} was not set.`);
      return this.ok();
    }
    await client.apps.updateEnvironmentVariables(found.guid, { [key]: null });
    this.ok();
    this.log(`TIP: Use '${this.config.bin} restage ${app}' to ensure your env variable changes take effect`);
  }
}
