import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { keyValues, table } from '../cli/output.js';
import { requireArg } from '../cli/prompts.js';

export default class Service extends ApiCommand {
  static override description = `Show a service instance: its offering, plan, broker, last operation and bound apps
The last operation is what its broker last did or does ("create in progress", "delete failed"), with the broker's message, as 'cf service' shows it.`;

  static override examples = ['<%= config.bin %> <%= command.id %> mydb', '<%= config.bin %> <%= command.id %> mydb --guid'];

  static override args = { name: Args.string({ description: 'service instance name' }) };

  static override flags = {
    guid: Flags.boolean({ description: 'print only the instance guid' }),
    json: Flags.boolean({ description: 'print as JSON' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Service);
    const name = await requireArg(args.name, 'SERVICE_INSTANCE', 'Service instance name');
    const { client, target } = await this.targeted();
    const instance = await client.services.instance(name);
    if (flags.guid) return this.log(instance.guid);
    const [summary] = await client.services.summaries(instance);
    if (flags.json) {
      const bindings = summary.bindings.map(({ binding, app }) => ({ app, binding_name: binding.name, last_operation: binding.last_operation ?? null }));
      return this.printJson({ ...instance, offering: summary.offering ?? null, plan: summary.plan ?? null, broker: summary.broker ?? null, bound_apps: summary.apps, bindings });
    }
    this.log(`Showing info of service ${name} in org ${target.org.name} / space ${target.space.name} as ${target.user}...\n`);
    const managed = instance.type === 'managed';
    this.log(
      keyValues([
        ['name', instance.name],
        ['guid', instance.guid],
        ['type', instance.type],
        ...(managed ? ([['broker', summary.broker ?? ''], ['offering', summary.offering ?? ''], ['plan', summary.plan ?? ''], ['dashboard url', instance.dashboard_url ?? '']] as [string, string][]) : []),
        ['tags', instance.tags.join(', ')],
      ]),
    );
    const op = instance.last_operation;
    this.log('\nShowing status of last operation:');
    this.log(
      op?.type
        ? keyValues([
            ['status', `${op.type} ${op.state}`],
            ['message', op.description ?? ''],
            ['started', op.created_at ?? ''],
            ['updated', op.updated_at ?? ''],
          ]).replace(/^/gm, '   ')
        : '   There is no last operation available for this service instance.',
    );
    this.log('\nShowing bound apps:');
    if (summary.bindings.length === 0) return this.log('   There are no bound apps for this service instance.');
    const rows = summary.bindings.map(({ binding, app }) => [app, binding.name ?? '', binding.last_operation ? `${binding.last_operation.type} ${binding.last_operation.state}` : '', binding.last_operation?.description ?? '']);
    this.log(table(['name', 'binding name', 'status', 'message'], rows).replace(/^/gm, '   '));
  }
}
