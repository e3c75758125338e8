import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { tagsArg } from '../cli/api/service-operations.js';
import { credentialsArg } from '../cli/json-arg.js';
import { requireArg } from '../cli/prompts.js';

/** Said where a route service URL is given: kept as Cloud Controller keeps it, but nothing uses it. */
export const ROUTE_SERVICES_ABSENT = "devbox's router has no route services: the URL is kept with the instance, but no route can be bound to it and no request is forwarded there.";

export default class CreateUserProvidedService extends ApiCommand {
  static override aliases = ['cups'];

  static override description = `Create a user-provided service instance: credentials of a service devbox does not manage
Credentials (-p) are a JSON object, a file holding one, or names separated by commas whose values are asked for. Apps bound to an instance with a syslog drain (-l) have their logs sent to it.`;

  static override examples = [
    `<%= config.bin %> <%= command.id %> my-api -p '{"url":"https://example.com","token":"s3cret"}'`,
    '<%= config.bin %> <%= command.id %> my-db -p "username, password"',
    '<%= config.bin %> <%= command.id %> my-db -p ./credentials.json -t "list, of, tags"',
    '<%= config.bin %> <%= command.id %> my-drain -l syslog://logs.example.com:514',
  ];

  static override args = { name: Args.string({ description: 'service instance name' }) };

  static override flags = {
    credentials: Flags.string({ char: 'p', description: 'credentials: a JSON object, a file holding one, or names separated by commas to be asked for' }),
    'syslog-drain-url': Flags.string({ char: 'l', description: 'URL to which logs for bound applications will be streamed (syslog://, syslog-tls://, https://)' }),
    'route-service-url': Flags.string({ char: 'r', description: 'URL to which requests for bound routes will be forwarded (https); devbox keeps it, its router does not forward' }),
    tags: Flags.string({ char: 't', description: 'user tags, separated by commas' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CreateUserProvidedService);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const { client, target } = await this.targeted();
    const credentials = flags.credentials === undefined ? {} : await credentialsArg(flags.credentials, '-p');
    this.log(`Creating user provided service ${name} ${this.where(target)}...`);
    await client.services.createUserProvidedInstance(name, {
      credentials,
      ...(flags['syslog-drain-url'] !== undefined ? { syslog_drain_url: flags['syslog-drain-url'] } : {}),
      ...(flags['route-service-url'] !== undefined ? { route_service_url: flags['route-service-url'] } : {}),
      ...(flags.tags !== undefined ? { tags: tagsArg(flags.tags) } : {}),
    });
    this.ok();
    if (flags['route-service-url']) this.logToStderr(`Warning: ${ROUTE_SERVICES_ABSENT}`);
  }
}
