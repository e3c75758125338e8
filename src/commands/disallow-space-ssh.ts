import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class DisallowSpaceSsh extends ApiCommand {
  static override description = `Disallow SSH access for the space
No app of the space can then be reached by ssh, whatever its own switch says. Needs a space manager, an org manager or an admin.`;

  static override examples = ['<%= config.bin %> <%= command.id %> dev'];

  static override args = {
    space: Args.string({ description: 'space name (in the targeted org)' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(DisallowSpaceSsh);
    const name = await requireArg(args.space, 'SPACE_NAME', 'Space name');
    const client = await this.client();
    const org = client.ssh.targetedOrg();
    this.log(`Disabling ssh support for space ${name} as ${client.user}...`);
    const space = await client.ssh.space(org, name);
    // cf leaves it alone then, and says so.
    if (!(await client.ssh.spaceFeature(space.guid)).enabled) this.log(`ssh support for space '${name}' is already disabled.`);
    else await client.ssh.setSpaceFeature(space.guid, false);
    this.ok();
  }
}
