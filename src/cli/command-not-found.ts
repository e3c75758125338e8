// oclif's `command_not_found` hook (package.json, oclif.hooks): an unknown command said the cf way,
//   'run-tsk' is not a registered command. See 'devbox help'.
//
//   Did you mean?
//       run-task
// on stderr, exit 2 (a usage error). With topicSeparator ' ', oclif joins every word that is not a
// known command into the id it looks for (`devbox run-tsk hello echo hi` asks for
// `run-tsk:hello:echo:hi`); devbox has no topics, so the command typed is the id's first word.
import type { Hook, Interfaces } from '@oclif/core';
import { errorJson, wantsJson } from './output.js';

/** The command word as typed: the id's first word (oclif joined the words after it with ':'). */
export function typedCommand(id: string, argv: readonly string[] = process.argv.slice(2)): string {
  // `devbox foo:bar` is looked up as typed; prefer what is on the command line when it is the id's start.
  const first = argv[0];
  if (first !== undefined && (id === first || id.startsWith(`${first}:`))) return first;
  return id.split(':')[0];
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The commands a mistyped name was probably meant to be, closest first: one edit away (cf's
 * suggester: `logn` → login, logs), two for names of six letters or more (`sevrices`); `PUSH` → push.
 * Aliases are not suggested, their commands are.
 */
export function suggestCommands(typed: string, commands: readonly string[]): string[] {
  const name = typed.toLowerCase();
  const limit = name.length >= 6 ? 2 : 1;
  return commands
    .map((command) => ({ command, distance: editDistance(name, command) }))
    .filter(({ command, distance }) => command !== typed && distance <= limit)
    .sort((a, b) => a.distance - b.distance || a.command.localeCompare(b.command))
    .map(({ command }) => command);
}

/** cf's words for an unknown command, with the suggestions under `Did you mean?`. */
export function unknownCommandMessage(typed: string, bin: string, suggestions: readonly string[] = []): string {
  const message = `'${typed}' is not a registered command. See '${bin} help'.`;
  return suggestions.length === 0 ? message : `${message}\n\nDid you mean?\n${suggestions.map((s) => `    ${s}`).join('\n')}`;
}

/** What to tell of `typed`, which is no command: cf's words and the commands it is closest to. */
export function unknownCommand(typed: string, config: Pick<Interfaces.Config, 'bin' | 'commands'>): string {
  // oclif lists each alias as a command of its own, named by the alias: only the commands themselves.
  const commands = config.commands.filter((c) => !c.hidden && !(c.aliases ?? []).includes(c.id)).map((c) => c.id);
  return unknownCommandMessage(typed, config.bin, suggestCommands(typed, commands));
}

const hook: Hook<'command_not_found'> = async function (options) {
  const argv = process.argv.slice(2);
  const message = unknownCommand(typedCommand(options.id, argv), options.config);
  if (wantsJson(argv)) process.stdout.write(`${errorJson(message.split('\n')[0], 2)}\n`);
  process.stderr.write(`${message}\n`);
  process.exitCode = 2;
};

export default hook;
