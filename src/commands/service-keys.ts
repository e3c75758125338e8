import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { table } from '../cli/output.js';
import { requireArg } from '../cli/prompts.js';

export default class ServiceKeys extends ApiCommand {
  static override aliases = ['sk'];

  static override description = "List a service instance's keys, with their last operation ('service-key' shows a key's credentials)";

  static override examples = ['<%= config.bin %> <%= command.id %> mydb', '<%= config.bin %> <%= command.id %> mydb --json'];

  static override args = { name: Args.string({ description: 'service instance name' }) };

  static override flags = { json: Flags.boolean({ description: 'print as JSON: [{guid, name, last_operation}]' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ServiceKeys);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const { client, target } = await this.targeted();
    if (!flags.json) this.log(`Getting keys for service instance ${name} as ${target.user}...\n`);
    const instance = await client.services.instance(name);
    const keys = (await client.services.bindings({ service_instance_guids: instance.guid, type: 'key' })).sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));
    if (flags.json) return this.printJson(keys.map((k) => ({ guid: k.guid, name: k.name, last_operation: k.last_operation ?? null })));
    if (keys.length === 0) return this.log(`No service keys for service instance ${name}`);
    this.log(table(['name', 'last operation', 'message'], keys.map((k) => [k.name ?? '', k.last_operation ? `${k.last_operation.type} ${k.last_operation.state}` : '', k.last_operation?.description ?? ''])));
  }
}
