import { Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { table } from '../cli/output.js';

export default class Orgs extends ApiCommand {
  static override aliases = ['o'];

  static override description = 'List all orgs';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];

  static override flags = {
    json: Flags.boolean({ description: 'print the orgs as JSON: [{guid, name}]' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Orgs);
    const client = await this.client();
    if (!flags.json) this.log(`Getting orgs as ${client.user}...\n`);
    const orgs = await client.orgs.list();
    if (flags.json) return this.printJson(orgs.map((o) => ({ guid: o.guid, name: o.name })));
    if (orgs.length === 0) return this.log('No orgs found.');
    this.log(table(['name'], orgs.map((o) => [o.name])));
  }
}
