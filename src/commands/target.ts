import { Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';

export default class Target extends ApiCommand {
  static override aliases = ['t'];

  static override description = 'Show or set the targeted org and space';

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> -s staging',
    '<%= config.bin %> <%= command.id %> -o devbox -s dev',
  ];

  static override flags = {
    org: Flags.string({ char: 'o', description: 'org to target (its only space is targeted too, unless -s says which)' }),
    space: Flags.string({ char: 's', description: 'space to target, in the targeted org' }),
    json: Flags.boolean({ description: 'print the target as JSON' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Target);
    const client = await this.client();
    if (flags.org !== undefined || flags.space !== undefined) await client.target.set(flags.org, flags.space);
    const version = await client.apiVersion();
    if (flags.json) {
      const { api, user, org, space } = client.session;
      this.printJson({ api, api_version: version, user, org: org ?? null, space: space ?? null });
      return;
    }
    this.log(this.targetBlock(client, version));
  }
}
