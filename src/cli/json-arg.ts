// cf's JSON flag values (`create-service -c`, `bind-service -c`, `cups -p`): a JSON object given
// inline or as the path of a file holding one.
import { readFile } from 'node:fs/promises';
import { CliError } from './base-command.js';
import { interactive, requireFlag } from './prompts.js';

/** The JSON object `value` gives (inline, or in the file it names); a CliError naming `flag` otherwise. */
export async function jsonObjectArg(value: string, flag: string): Promise<Record<string, unknown>> {
  const invalid = () => new CliError(`Invalid configuration provided for ${flag} flag. Please provide a valid JSON object or path to a file containing a valid JSON object.`, 1);
  let text = value;
  if (!value.trim().startsWith('{')) {
    text = await readFile(value, 'utf8').catch(() => {
      throw invalid();
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid();
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid();
  return parsed as Record<string, unknown>;
}

/**
 * A user-provided service's credentials (`cups -p`, `uups -p`) as cf takes them: a JSON object, a
 * file holding one, or names separated by commas whose values are asked for at the terminal (hidden,
 * as they are secrets).
 */
export async function credentialsArg(value: string, flag: string): Promise<Record<string, unknown>> {
  const given = value.replace(/^["']+|["']+$/g, '');
  if (given.trim().startsWith('{')) return jsonObjectArg(given, flag);
  const file = await readFile(given, 'utf8').catch(() => undefined);
  if (file !== undefined) {
    try {
      return await jsonObjectArg(file, flag);
    } catch {
      throw new CliError(`The file '${given}' contains invalid JSON. Please provide a path to a file containing a valid JSON object.`, 1);
    }
  }
  const keys = given.split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (keys.length === 0) throw new CliError(`Incorrect Usage: ${flag} needs credentials: a JSON object, a file holding one, or names separated by commas to be asked for.`, 2);
  if (!interactive()) {
    throw new CliError(`Incorrect Usage: ${flag} '${keys.join(', ')}' asks for each value at a terminal, and there is none: give the credentials as JSON instead, e.g. ${flag} '{"${keys[0]}":"..."}'.`, 2);
  }
  const credentials: Record<string, unknown> = {};
  for (const key of keys) credentials[key] = await requireFlag(undefined, flag, key, { secret: true });
  return credentials;
}
