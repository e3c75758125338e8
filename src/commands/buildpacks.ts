import { Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { table } from '../cli/output.js';

export default class Buildpacks extends ApiCommand {
  static override description = 'List the buildpacks, in the order detection tries them (push -b NAME names one; docs/buildpacks.md)';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];

  static override flags = {
    json: Flags.boolean({ description: 'print as JSON: [{guid, name, position, stack, state, enabled, locked, filename}]' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Buildpacks);
    const client = await this.client();
    if (!flags.json) this.log(`Getting buildpacks as ${client.user}...\n`);
    const buildpacks = await client.platform.buildpacks();
    if (flags.json) {
      return this.printJson(buildpacks.map((b) => ({ guid: b.guid, name: b.name, position: b.position, stack: b.stack, state: b.state, enabled: b.enabled, locked: b.locked, filename: b.filename })));
    }
    if (buildpacks.length === 0) return this.log('No buildpacks found');
    this.log(
      table(
        ['position', 'name', 'stack', 'enabled', 'locked', 'state', 'filename'],
        buildpacks.map((b) => [b.position, b.name, b.stack ?? '', String(b.enabled), String(b.locked), b.state, b.filename ?? '']),
      ),
    );
  }
}
