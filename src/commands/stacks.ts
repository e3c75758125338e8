import { Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { table } from '../cli/output.js';

export default class Stacks extends ApiCommand {
  static override description = 'List the stacks: devbox has one, host (apps run with the machine\'s own toolchains)';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];

  static override flags = {
    json: Flags.boolean({ description: 'print as JSON: [{guid, name, description, default}]' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Stacks);
    const client = await this.client();
    if (!flags.json) this.log(`Getting stacks as ${client.user}...\n`);
    const stacks = await client.platform.stacks();
    if (flags.json) return this.printJson(stacks.map((s) => ({ guid: s.guid, name: s.name, description: s.description, default: s.default ?? false })));
    if (stacks.length === 0) return this.log('No stacks found');
    this.log(table(['name', 'description'], stacks.map((s) => [s.name, s.description ?? ''])));
  }
}
