import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class AllowSpaceSsh extends ApiCommand {
  static override description = `Allow SSH access for the space
Each app's own switch (enable-ssh) still applies. Needs a space manager, an org manager or an admin.`;

  static override examples = ['<%= config.bin %> <%= command.id %> dev'];

  static override args = {
    space: Args.string({ description: 'space name (in the targeted org)' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(AllowSpaceSsh);
    const name = await requireArg(args.space, 'SPACE_NAME', 'Space name');
    const client = await this.client();
    const org = client.ssh.targetedOrg();
    this.log(`Enabling ssh support for space ${name} as ${client.user}...`);
    const space = await client.ssh.space(org, name);
    // cf leaves it alone then, and says so.
    if ((await client.ssh.spaceFeature(space.guid)).enabled) this.log(`ssh support for space '${name}' is already enabled.`);
    else await client.ssh.setSpaceFeature(space.guid, true);
    this.ok();
  }
}
