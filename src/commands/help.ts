import { Args, Flags, loadHelpClass } from '@oclif/core';
import { DevboxCommand } from '../cli/base-command.js';
import { unknownCommand } from '../cli/command-not-found.js';

export default class Help extends DevboxCommand {
  static override description = `Show help: every command, or one command's usage, flags and examples
The same as '<%= config.bin %> COMMAND --help' (or -h). Aliases are cf's ('p' for push, 'a' for apps, ...); a command's help lists its own.`;

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> push', '<%= config.bin %> <%= command.id %> -a'];

  static override args = {
    command: Args.string({ description: 'the command (or its alias) to describe' }),
  };

  static override flags = {
    all: Flags.boolean({ char: 'a', description: "list every command (as 'cf help -a'; devbox has one list)" }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(Help);
    const HelpClass = await loadHelpClass(this.config);
    const help = new HelpClass(this.config, this.config.pjson.oclif.helpOptions ?? {});
    if (args.command === undefined) return help.showHelp([]);
    const command = this.config.findCommand(args.command);
    if (!command) {
      process.stderr.write(`${unknownCommand(args.command, this.config)}\n`);
      process.exitCode = 2;
      return;
    }
    // An alias (`help p`) is described as its command (`devbox push`).
    const named = this.config.commands.find((c) => c.id !== command.id && (c.aliases ?? []).includes(command.id)) ?? command;
    await help.showHelp([named.id]);
  }
}
