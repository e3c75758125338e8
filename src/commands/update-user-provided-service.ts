import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { tagsArg } from '../cli/api/service-operations.js';
import { CliError } from '../cli/base-command.js';
import { credentialsArg } from '../cli/json-arg.js';
import { ROUTE_SERVICES_ABSENT } from './create-user-provided-service.js';
import { requireArg } from '../cli/prompts.js';

export default class UpdateUserProvidedService extends ApiCommand {
  static override aliases = ['uups'];

  static override description = `Update a user-provided service instance: its credentials (-p), syslog drain (-l), route service URL (-r) or tags (-t)
Bound apps see new credentials at their next restage or restart.`;

  static override examples = [`<%= config.bin %> <%= command.id %> my-api -p '{"url":"https://example.com","token":"n3w"}'`, '<%= config.bin %> <%= command.id %> my-api -l syslog://logs.example:514'];

  static override args = { name: Args.string({ description: 'service instance name' }) };

  static override flags = {
    credentials: Flags.string({ char: 'p', description: 'credentials: a JSON object, a file holding one, or names separated by commas to be asked for (they replace the current ones)' }),
    'syslog-drain-url': Flags.string({ char: 'l', description: 'URL to which logs for bound applications will be streamed' }),
    'route-service-url': Flags.string({ char: 'r', description: 'URL to which requests for bound routes will be forwarded' }),
    tags: Flags.string({ char: 't', description: 'user tags, separated by commas (they replace the current ones)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(UpdateUserProvidedService);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const given = [flags.credentials, flags['syslog-drain-url'], flags['route-service-url'], flags.tags].some((f) => f !== undefined);
    if (!given) {
      this.log('No flags specified. No changes were made.');
      return this.ok();
    }
    const { client, target } = await this.targeted();
    const credentials = flags.credentials === undefined ? undefined : await credentialsArg(flags.credentials, '-p');
    this.log(`Updating user provided service ${name} ${this.where(target)}...`);
    const instance = await client.services.instance(name);
    if (instance.type !== 'user-provided') throw new CliError(`Service instance ${name} is not user-provided: use '${this.config.bin} update-service ${name}' to change it.`);
    await client.services.updateInstance(instance, {
      ...(credentials ? { credentials } : {}),
      ...(flags['syslog-drain-url'] !== undefined ? { syslog_drain_url: flags['syslog-drain-url'] } : {}),
      ...(flags['route-service-url'] !== undefined ? { route_service_url: flags['route-service-url'] } : {}),
      ...(flags.tags !== undefined ? { tags: tagsArg(flags.tags) } : {}),
    });
    this.ok();
    if (flags['route-service-url']) this.logToStderr(`Warning: ${ROUTE_SERVICES_ABSENT}`);
    this.log(`TIP: Use '${this.config.bin} restage' for any bound apps to ensure your env variable changes take effect`);
  }
}
