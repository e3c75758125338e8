import { Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { table } from '../cli/output.js';

export default class Services extends ApiCommand {
  static override aliases = ['s'];

  static override description = 'List the service instances in the targeted space';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];

  static override flags = {
    json: Flags.boolean({ description: 'print as JSON: [{guid, name, type, offering, plan, broker, bound_apps, last_operation}]' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Services);
    const { client, target } = await this.targeted();
    if (!flags.json) this.log(`Getting service instances in org ${target.org.name} / space ${target.space.name} as ${target.user}...\n`);
    const summaries = await client.services.summaries();
    if (flags.json) {
      return this.printJson(summaries.map((s) => ({ guid: s.instance.guid, name: s.instance.name, type: s.instance.type, offering: s.offering ?? null, plan: s.plan ?? null, broker: s.broker ?? null, bound_apps: s.apps, last_operation: s.instance.last_operation })));
    }
    if (summaries.length === 0) return this.log('No service instances found.');
    const op = (s: (typeof summaries)[number]) => `${s.instance.last_operation.type} ${s.instance.last_operation.state}`;
    this.log(table(['name', 'offering', 'plan', 'bound apps', 'last operation', 'broker'], summaries.map((s) => [s.instance.name, s.offering ?? '', s.plan ?? '', s.apps.join(', '), op(s), s.broker ?? ''])));
  }
}
