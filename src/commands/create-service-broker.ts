import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

export default class CreateServiceBroker extends ApiCommand {
  static override aliases = ['csb'];

  static override description = "Register an Open Service Broker API broker: its catalog's offerings appear in 'marketplace'";

  static override examples = ['<%= config.bin %> <%= command.id %> my-broker user s3cret http://127.0.0.1:9000'];

  static override args = {
    name: Args.string({ description: 'broker name' }),
    username: Args.string({ description: 'basic auth username' }),
    password: Args.string({ description: 'basic auth password' }),
    url: Args.string({ description: 'broker URL' }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(CreateServiceBroker);
    const name = await requireArg(args.name, 'SERVICE_BROKER', 'Broker name');
    const username = await requireArg(args.username, 'USERNAME', 'Username');
    const password = await requireArg(args.password, 'PASSWORD', 'Password');
    const url = await requireArg(args.url, 'URL', 'Broker URL');
    const client = await this.client();
    this.log(`Creating service broker ${name} as ${client.user}...`);
    await client.services.createBroker(name, username, password, url);
    this.ok();
  }
}
