import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { CliError } from '../cli/base-command.js';
import { requireArg } from '../cli/prompts.js';

export default class CreateSpace extends ApiCommand {
  static override aliases = ['csp'];

  static override description = 'Create a space in the targeted org (or the one given with -o)';

  static override examples = ['<%= config.bin %> <%= command.id %> staging', '<%= config.bin %> <%= command.id %> staging -o devbox'];

  static override args = {
    space: Args.string({ description: 'name of the new space' }),
  };

  static override flags = {
    org: Flags.string({ char: 'o', description: 'org to create the space in (default: the targeted org)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CreateSpace);
    const name = await requireArg(args.space, 'SPACE', 'Name of the new space');
    const client = await this.client();
    const org = flags.org !== undefined ? await client.orgs.get(flags.org) : client.session.org;
    if (!org) throw new CliError("No org targeted, use 'devbox target -o ORG' to target an org, or give one with -o.");
    this.log(`Creating space ${name} in org ${org.name} as ${client.user}...`);
    const created = await client.orgs.createSpace(org, name);
    if (!created) this.logToStderr(`Space ${name} already exists`);
    this.ok();
    this.log(`\nTIP: Use '${this.config.bin} target -o "${org.name}" -s "${name}"' to target new space`);
  }
}
