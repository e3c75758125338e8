// Asking at the terminal (inquirer), only when a person is there: stdin and stdout both TTYs. In CI
// and scripts a missing argument is a usage error (exit 2) that names the argument, and a question
// that guards something destructive is refused unless its flag (-f) answers it.
import { CliError } from './base-command.js';

export function interactive(): boolean {
  return !!process.stdin.isTTY && !!process.stdout.isTTY;
}

/** Ctrl-C or a closed terminal during a question: exit quietly-ish, the cf way. */
function cancelled(error: unknown): never {
  if (error instanceof Error && error.name === 'ExitPromptError') throw new CliError('Cancelled.', 130);
  throw error;
}

/** The argument's value, asked for at a terminal; a usage error (exit 2) naming it otherwise. */
export async function requireArg(value: string | undefined, name: string, question: string): Promise<string> {
  if (value !== undefined && value !== '') return value;
  if (!interactive()) throw new CliError(`Incorrect Usage: the required argument ${name} was not provided (and there is no terminal to ask at).`, 2);
  const { input } = await import('@inquirer/prompts');
  return input({ message: question, required: true }).catch(cancelled);
}

/** A flag's value, asked for at a terminal (hidden for secrets); a usage error naming the flag otherwise. */
export async function requireFlag(value: string | undefined, flag: string, question: string, { secret = false } = {}): Promise<string> {
  if (value !== undefined) return value;
  if (!interactive()) throw new CliError(`Incorrect Usage: ${flag} is required when there is no terminal to ask at.`, 2);
  const { input, password } = await import('@inquirer/prompts');
  return (secret ? password({ message: question, mask: false }) : input({ message: question, required: true })).catch(cancelled);
}

/**
 * A yes/no question guarding something destructive; `force` (-f) answers yes. Without a terminal and
 * without -f it refuses with a usage error (exit 2) that says which flag to add.
 */
export async function confirmOrForce(question: string, { force, refusal }: { force: boolean; refusal: string }): Promise<boolean> {
  if (force) return true;
  if (!interactive()) throw new CliError(refusal, 2);
  const { confirm } = await import('@inquirer/prompts');
  return confirm({ message: question, default: false }).catch(cancelled);
}

/** One of several choices at a terminal; undefined without one. */
export async function choose<T>(question: string, choices: { name: string; value: T }[]): Promise<T | undefined> {
  if (!interactive() || choices.length === 0) return undefined;
  const { select } = await import('@inquirer/prompts');
  return select({ message: question, choices }).catch(cancelled);
}
