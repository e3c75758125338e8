import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { keyValues } from '../cli/output.js';
import { requireArg } from '../cli/prompts.js';

export default class Service extends ApiCommand {
  static override description = 'Show a service instance: its offering, plan, bound apps and last operation';

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
    if (flags.json) return this.printJson({ ...instance, offering: summary.offering ?? null, plan: summary.plan ?? null, broker: summary.broker ?? null, bound_apps: summary.apps });
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
    this.log(`\nShowing status of last operation:\n${keyValues([['status', `${instance.last_operation.type} ${instance.last_operation.state}`], ['message', instance.last_operation.description ?? '']])}`);
    this.log(summary.apps.length ? `\nBound apps:\n   ${summary.apps.join('\n   ')}` : '\nThere are no bound apps for this service instance.');
  }
}
