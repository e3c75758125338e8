import { Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { keyValues, table } from '../cli/output.js';

export default class Marketplace extends ApiCommand {
  static override aliases = ['m'];

  static override description = 'List the service offerings of the registered brokers, or the plans of one (-e)';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> -e p-mysql'];

  static override flags = {
    'service-offering': Flags.string({ char: 'e', description: 'show the plans of this offering' }),
    json: Flags.boolean({ description: 'print as JSON: [{offering, description, broker, plans: [{name, description, free}]}]' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Marketplace);
    const { client, target } = await this.targeted();
    const name = flags['service-offering'];
    if (!flags.json) this.log(`Getting ${name ? `service plan information for service offering ${name}` : 'all service offerings from marketplace'} in org ${target.org.name} / space ${target.space.name} as ${target.user}...\n`);
    const offerings = await client.services.offerings(name ? [name] : undefined);
    if (name && offerings.length === 0) this.error(`Service offering '${name}' not found.`, { exit: 1 });
    const [plans, brokers] = await Promise.all([client.services.plans(offerings.map((o) => o.guid)), client.services.brokers()]);
    const rows = offerings.map((o) => ({
      offering: o.name,
      description: o.description,
      broker: brokers.find((b) => b.guid === o.relationships.service_broker.data.guid)?.name ?? '',
      plans: plans.filter((p) => p.relationships.service_offering.data.guid === o.guid).map((p) => ({ name: p.name, description: p.description, free: p.free })),
    }));
    if (flags.json) return this.printJson(rows);
    if (rows.length === 0) return this.log('No service offerings found.');
    if (name) {
      const [row] = rows;
      this.log(keyValues([['broker', row.broker]]) + '\n');
      return this.log(table(['plan', 'description', 'free or paid'], row.plans.map((p) => [p.name, p.description, p.free ? 'free' : 'paid'])));
    }
    this.log(table(['offering', 'plans', 'description', 'broker'], rows.map((r) => [r.offering, r.plans.map((p) => p.name).join(', '), r.description, r.broker])));
  }
}
