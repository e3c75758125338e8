// What every devbox command shares: the state directory, and errors printed the cf way
// (FAILED on stdout, the reason on stderr; exit 1 for failures, 2 for usage errors; under --json the
// failure as JSON on stdout instead of FAILED).
import { Command } from '@oclif/core';
import { resolveHome } from '../runtime/common/config.js';
import { errorJson, failedText, wantsJson } from './output.js';

/** An error whose message already says what went wrong and what to do next. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export abstract class DevboxCommand extends Command {
  protected get home(): string {
    return resolveHome();
  }

  /** `--json` given to a command that has it: then a failure is printed as JSON on stdout, and nothing else. */
  protected jsonOutput(): boolean {
    const flags = (this.constructor as typeof Command).flags ?? {};
    return 'json' in flags && wantsJson(this.argv);
  }

  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    const json = this.jsonOutput();
    // oclif's own parse errors (unknown flag, missing arg) are usage errors: exit 2.
    if (error.oclif?.exit !== undefined && !(error instanceof CliError)) {
      if (error.oclif.exit === 0) return;
      const code = error.oclif.exit === 1 ? 2 : error.oclif.exit;
      // oclif ends with "See more help with --help": name the command, as devbox's own usage errors do.
      const message = error.message.replace(/\n?See more help with --help\s*$/, '');
      if (json) process.stdout.write(`${errorJson(message, code)}\n`);
      process.stderr.write(`${message}\n${this.id ? `See '${this.config.bin} ${this.id} --help'.\n` : ''}`);
      process.exitCode = code;
      return;
    }
    if (error instanceof CliError && error.exitCode === 2) {
      // A usage error (like oclif's own): the reason and where the usage is, no FAILED.
      if (json) process.stdout.write(`${errorJson(error.message, 2)}\n`);
      process.stderr.write(`${error.message}\n${this.id ? `See '${this.config.bin} ${this.id} --help'.\n` : ''}`);
      process.exitCode = 2;
      return;
    }
    const code = error instanceof CliError ? error.exitCode : 1;
    // JSON instead of FAILED; the reason still goes to stderr, for the person reading the terminal.
    process.stdout.write(json ? `${errorJson(error.message, code, apiError(error))}\n` : `${failedText()}\n`);
    process.stderr.write(`${error.message}\n`);
    process.exitCode = code;
  }
}

/** What the API said, when the failure was its refusal (ApiRequestError): HTTP status, CC error title and detail. */
function apiError(error: Error & { status?: unknown; title?: unknown; detail?: unknown }): Record<string, unknown> {
  if (typeof error.status !== 'number') return {};
  return { http_status: error.status, ...(typeof error.title === 'string' ? { title: error.title } : {}), ...(typeof error.detail === 'string' ? { detail: error.detail } : {}) };
}
