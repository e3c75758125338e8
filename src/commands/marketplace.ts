import { Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { CliError } from '../cli/base-command.js';
import { keyValues, table } from '../cli/output.js';

export default class Marketplace extends ApiCommand {
  static override aliases = ['m'];

  static override description = 'List the service offerings of the registered brokers (of one, with -b), or the plans of one (-e)';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> -e p-mysql', '<%= config.bin %> <%= command.id %> -b my-broker'];

  static override flags = {
    'service-offering': Flags.string({ char: 'e', description: 'show the plans of this offering' }),
    broker: Flags.string({ char: 'b', description: 'only the offerings of this broker' }),
    json: Flags.boolean({ description: 'print as JSON: [{offering, description, broker, plans: [{name, description, free}]}]' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Marketplace);
    const { client, target } = await this.targeted();
    const name = flags['service-offering'];
    const broker = flags.broker;
    const from = broker ? ` from service broker ${broker}` : '';
    if (!flags.json) this.log(`Getting ${name ? `service plan information for service offering ${name}${from}` : `all service offerings${from || ' from marketplace'}`} in org ${target.org.name} / space ${target.space.name} as ${target.user}...\n`);
    const offerings = await client.services.offerings(name ? [name] : undefined, broker ? [broker] : undefined);
    if (broker && offerings.length === 0 && !(await client.services.findBroker(broker))) throw new CliError(`Service broker '${broker}' not found. '${this.config.bin} service-brokers' lists the brokers.`);
    if (name && offerings.length === 0) throw new CliError(`Service offering '${name}' not found${from}.`);
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
      // Several brokers may offer one name: each with its plans.
      return this.log(rows.map((row) => `${keyValues([['broker', row.broker]])}\n\n${table(['plan', 'description', 'free or paid'], row.plans.map((p) => [p.name, p.description, p.free ? 'free' : 'paid']))}`).join('\n\n'));
    }
    this.log(table(['offering', 'plans', 'description', 'broker'], rows.map((r) => [r.offering, r.plans.map((p) => p.name).join(', '), r.description, r.broker])));
  }
}
