import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';
import { submittedTask, taskFailure, taskRequest, templateProcessType } from '../cli/task-view.js';
import { sizeFlag } from '../cli/units.js';

export default class RunTask extends ApiCommand {
  static override aliases = ['rt'];

  static override description = `Run a one-off task on an app
The task runs the app's current droplet with the app's environment and bindings, as an instance does. Command, memory and disk default to those of the process named with --process; without --command and --process, to those of the app's 'task' process (as cf). With --wait the CLI waits until the task SUCCEEDED or FAILED (up to DEVBOX_TASK_TIMEOUT minutes, default 60) and exits 1 when it failed.
TIP: the task's output is in '<%= config.bin %> logs APP_NAME' (and --recent), with the source APP/TASK/<task name>/0.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> myapp --command "npm run migrate" --name migrate',
    '<%= config.bin %> <%= command.id %> myapp --command "node seed.js" -m 512M --wait',
    '<%= config.bin %> <%= command.id %> myapp --process worker',
  ];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    command: Flags.string({ char: 'c', description: 'the command to execute' }),
    name: Flags.string({ description: 'name to give the task (generated if omitted)' }),
    memory: Flags.string({ char: 'm', description: 'memory limit, e.g. 256M, 1G' }),
    disk: Flags.string({ char: 'k', description: 'disk limit, e.g. 256M, 1G' }),
    process: Flags.string({ description: 'process type to use as a template for command, memory and disk' }),
    wait: Flags.boolean({ char: 'w', description: 'wait for the task to complete before exiting (exit 1 when it failed)' }),
    json: Flags.boolean({ description: 'print the task as JSON (the API\'s task resource; with --wait, as it ended)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(RunTask);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const options = { command: flags.command, name: flags.name, memory_in_mb: sizeFlag('-m', flags.memory), disk_in_mb: sizeFlag('-k', flags.disk), process: flags.process };
    const { client, target } = await this.targeted();
    const app = await client.apps.get(name);
    const processes = templateProcessType(options) === undefined ? [] : await client.processes.ofApp(app.guid);
    const request = taskRequest(name, options, processes);
    if (!flags.json) this.log(`Creating task for app ${name} ${this.where(target)}...`);
    let task = await client.tasks.run(app.guid, request);
    if (!flags.json) {
      this.log('Task has been submitted successfully for execution.');
      this.ok();
      this.log(''); // cf's OK is followed by an empty line
      this.log(submittedTask(task));
    }
    if (flags.wait) {
      if (!flags.json) this.log('\nWaiting for task to complete execution...');
      task = await client.tasks.waitUntilDone(task, name);
    }
    const ui = { bin: this.config.bin, logs: this.config.findCommand('logs') !== undefined };
    if (flags.json) {
      this.printJson(task);
      // Only JSON on stdout: the failure goes to stderr, and the exit code says it.
      if (task.state === 'FAILED' && flags.wait) {
        this.logToStderr(taskFailure(task, name, ui).message);
        process.exitCode = 1;
      }
      return;
    }
    if (flags.wait) {
      if (task.state === 'FAILED') throw taskFailure(task, name, ui);
      this.log('\nTask has completed successfully.');
      this.ok();
    }
  }
}
