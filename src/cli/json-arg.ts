// cf's JSON flag values (`create-service -c`, `bind-service -c`, `cups -p`): a JSON object given
// inline or as the path of a file holding one.
import { readFile } from 'node:fs/promises';
import { CliError } from './base-command.js';

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
