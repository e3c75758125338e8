import { Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { CliError } from '../cli/base-command.js';
import { table } from '../cli/output.js';

export default class Spaces extends ApiCommand {
  static override description = 'List all spaces in the targeted org';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];

  static override flags = {
    json: Flags.boolean({ description: 'print the spaces as JSON: [{guid, name}]' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Spaces);
    const client = await this.client();
    const org = client.session.org;
    if (!org) throw new CliError("No org targeted, use 'devbox target -o ORG' to target an org.");
    if (!flags.json) this.log(`Getting spaces in org ${org.name} as ${client.user}...\n`);
    const spaces = await client.orgs.spaces(org.guid);
    if (flags.json) return this.printJson(spaces.map((s) => ({ guid: s.guid, name: s.name })));
    if (spaces.length === 0) return this.log('No spaces found.');
    this.log(table(['name'], spaces.map((s) => [s.name])));
  }
}
