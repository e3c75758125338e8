import { Args } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';
import { parseTaskId } from '../cli/task-view.js';

export default class TerminateTask extends ApiCommand {
  static override description = `Terminate a running task of an app
TASK_ID is the task's id as 'tasks' shows it. The task is CANCELING, then FAILED; a task that already ended cannot be terminated (the API says so, exit 1).`;

  static override examples = ['<%= config.bin %> <%= command.id %> myapp 3'];

  static override args = {
    app: Args.string({ description: 'app name' }),
    task_id: Args.string({ description: "the task's id (see 'tasks')" }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(TerminateTask);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const id = parseTaskId(await requireArg(args.task_id, 'TASK_ID', 'Task id'));
    const { client, target } = await this.targeted();
    const app = await client.apps.get(name);
    const task = await client.tasks.getBySequenceId(app.guid, id, name);
    this.log(`Terminating task ${id} of app ${name} ${this.where(target)}...`);
    await client.tasks.cancel(task.guid);
    this.ok();
  }
}
