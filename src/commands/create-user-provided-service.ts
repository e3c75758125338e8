import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { jsonObjectArg } from '../cli/json-arg.js';
import { requireArg, requireFlag } from '../cli/prompts.js';

export default class CreateUserProvidedService extends ApiCommand {
  static override aliases = ['cups'];

  static override description = 'Create a user-provided service instance: credentials of a service devbox does not manage';

  static override examples = [`<%= config.bin %> <%= command.id %> my-api -p '{"url":"https://example.com","token":"s3cret"}'`];

  static override args = { name: Args.string({ description: 'service instance name' }) };

  static override flags = {
    credentials: Flags.string({ char: 'p', description: 'credentials: a JSON object, or a file holding one' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CreateUserProvidedService);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const credentials = await jsonObjectArg(await requireFlag(flags.credentials, '-p', 'Credentials (JSON object)'), '-p');
    const { client, target } = await this.targeted();
    this.log(`Creating user provided service ${name} ${this.where(target)}...`);
    await client.services.createUserProvidedInstance(name, credentials);
    this.ok();
  }
}
