import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { describeEventData, table } from '../cli/output.js';
import { requireArg } from '../cli/prompts.js';
import { eventTime } from '../cli/units.js';

export default class Events extends ApiCommand {
  static override description = "Show an app's recent events (the last 50 audit events, newest first)";

  static override examples = ['<%= config.bin %> <%= command.id %> myapp', '<%= config.bin %> <%= command.id %> myapp --json'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    json: Flags.boolean({ description: 'print the events as JSON: [{guid, time, event, actor, description, data}]' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Events);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    if (!flags.json) this.log(`Getting events for app ${name} ${this.where(target)}...\n`);
    const app = await client.apps.get(name);
    const events = await client.apps.events(app.guid);
    if (flags.json) {
      return this.printJson(events.map((e) => ({ guid: e.guid, time: e.created_at, event: e.type, actor: e.actor.name, description: describeEventData(e.data), data: e.data })));
    }
    if (events.length === 0) return this.log('No events found.');
    this.log(table(['time', 'event', 'actor', 'description'], events.map((e) => [eventTime(e.created_at), e.type, e.actor.name, describeEventData(e.data)])));
  }
}
