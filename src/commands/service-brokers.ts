import { Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { table } from '../cli/output.js';

export default class ServiceBrokers extends ApiCommand {
  static override description = 'List the registered service brokers';

  static override examples = ['<%= config.bin %> <%= command.id %>'];

  static override flags = { json: Flags.boolean({ description: 'print as JSON: [{guid, name, url}]' }) };

  async run(): Promise<void> {
    const { flags } = await this.parse(ServiceBrokers);
    const client = await this.client();
    if (!flags.json) this.log(`Getting service brokers as ${client.user}...\n`);
    const brokers = await client.services.brokers();
    if (flags.json) return this.printJson(brokers.map((b) => ({ guid: b.guid, name: b.name, url: b.url })));
    if (brokers.length === 0) return this.log('No service brokers found');
    this.log(table(['name', 'url'], brokers.map((b) => [b.name, b.url])));
  }
}
