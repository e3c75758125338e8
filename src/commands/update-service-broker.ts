import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { CliError } from '../cli/base-command.js';
import { requireArg } from '../cli/prompts.js';

export default class UpdateServiceBroker extends ApiCommand {
  static override description = `Update a service broker's credentials and URL; its catalog is fetched again
Offerings and plans keep their guids (they are matched by their catalog ids); plans gone from the catalog are removed unless instances use them.`;

  static override examples = ['<%= config.bin %> <%= command.id %> my-broker user n3w-s3cret http://127.0.0.1:9001'];

  static override args = {
    name: Args.string({ description: 'broker name' }),
    username: Args.string({ description: 'basic auth username' }),
    password: Args.string({ description: 'basic auth password' }),
    url: Args.string({ description: 'broker URL' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(UpdateServiceBroker);
    const name = await requireArg(args.name, 'SERVICE_BROKER', 'Broker name');
    const username = await requireArg(args.username, 'USERNAME', 'Username');
    const password = await requireArg(args.password, 'PASSWORD', 'Password');
    const url = await requireArg(args.url, 'URL', 'Broker URL');
    const client = await this.client();
    this.log(`Updating service broker ${name} as ${client.user}...`);
    const broker = await client.services.findBroker(name);
    if (!broker) throw new CliError(`Service broker '${name}' not found. '${this.config.bin} service-brokers' lists the brokers.`);
    await client.services.updateBroker(broker, username, password, url);
    this.ok();
  }
}
