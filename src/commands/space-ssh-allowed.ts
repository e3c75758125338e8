import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class SpaceSshAllowed extends ApiCommand {
  static override description = 'Reports whether SSH is allowed in a space';

  static override examples = ['<%= config.bin %> <%= command.id %> dev'];

  static override args = {
    space: Args.string({ description: 'space name (in the targeted org)' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(SpaceSshAllowed);
    const name = await requireArg(args.space, 'SPACE_NAME', 'Space name');
    const { ssh } = await this.client();
    const { enabled } = await ssh.spaceFeature((await ssh.space(ssh.targetedOrg(), name)).guid);
    this.log(`ssh support is ${enabled ? 'enabled' : 'disabled'} in space '${name}'.`);
  }
}
