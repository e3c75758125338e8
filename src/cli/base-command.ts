// What every devbox command shares: the state directory, and errors printed the cf way
// (FAILED on stdout, the reason on stderr; exit 1 for failures, 2 for usage errors).
import { Command } from '@oclif/core';
import { resolveHome } from '../runtime/common/config.js';
import { failedText } from './output.js';

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

  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    // oclif's own parse errors (unknown flag, missing arg) are usage errors: exit 2.
    if (error.oclif?.exit !== undefined && !(error instanceof CliError)) {
      if (error.oclif.exit === 0) return;
      process.stderr.write(`${error.message}\n`);
      process.exitCode = error.oclif.exit === 1 ? 2 : error.oclif.exit;
      return;
    }
    if (error instanceof CliError && error.exitCode === 2) {
      // A usage error (like oclif's own): the reason and where the usage is, no FAILED.
      process.stderr.write(`${error.message}\n${this.id ? `See '${this.config.bin} ${this.id} --help'.\n` : ''}`);
      process.exitCode = 2;
      return;
    }
    process.stdout.write(`${failedText()}\n`);
    process.stderr.write(`${error.message}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  }
}
