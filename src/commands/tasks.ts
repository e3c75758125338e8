import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';
import { renderTasks, tasksJson } from '../cli/task-view.js';

export default class Tasks extends ApiCommand {
  static override description = `List the tasks of an app, newest first: id, name, state, start time and command
The id is what terminate-task takes. A command you may not see shows as [hidden].`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp', '<%= config.bin %> <%= command.id %> myapp --json'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    json: Flags.boolean({ description: 'print the tasks as JSON: [{guid, id, name, state, start_time, command, memory_in_mb, disk_in_mb, failure_reason}]' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Tasks);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    if (!flags.json) this.log(`Getting tasks for app ${name} ${this.where(target)}...\n`);
    const app = await client.apps.get(name);
    const tasks = await client.tasks.ofApp(app.guid);
    if (flags.json) return this.printJson(tasksJson(tasks));
    this.log(renderTasks(tasks));
  }
}
