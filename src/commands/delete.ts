import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { confirmOrForce, requireArg } from '../cli/prompts.js';

export default class Delete extends ApiCommand {
  static override aliases = ['d'];

  static override description = `Delete an app (asks first at a terminal; -f to skip the question, required in scripts)
With -r the routes mapped to the app are deleted too; a route that is also mapped to another app stops the delete before anything is removed.`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp', '<%= config.bin %> <%= command.id %> myapp -f -r'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    force: Flags.boolean({ char: 'f', description: 'delete without asking' }),
    'delete-routes': Flags.boolean({ char: 'r', description: 'also delete the routes mapped to the app' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Delete);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    const sure = await confirmOrForce(`Really delete the app ${name}?`, {
      force: flags.force,
      refusal: `Not deleting app ${name}: there is no terminal to ask 'Really delete the app ${name}?'. Use '${this.config.bin} delete ${name} -f' to delete without asking.`,
    });
    if (!sure) return this.log('Delete cancelled');
    this.log(`Deleting app ${name} ${this.where(target)}...`);
    const result = await client.apps.deleteByName(name, { deleteRoutes: flags['delete-routes'] });
    if (!result) this.logToStderr(`App '${name}' does not exist.`);
    else for (const url of result.deletedRoutes) this.log(`Deleted route ${url}`);
    this.ok();
  }
}
