// The base of every command that talks to the API: one ApiClient per run (logged in lazily after
// `devbox up`), and the cf phrases commands share.
import { ApiClient } from './api/client.js';
import type { Target } from './api/target.js';
import { DevboxCommand } from './base-command.js';
import type { Ui } from './lifecycle.js';
import { json, keyValues, okText } from './output.js';
import { createSteps } from './steps.js';

export abstract class ApiCommand extends DevboxCommand {
  private connected?: ApiClient;

  /** The API client of this run, connecting (and logging in lazily) on first use. */
  protected async client(): Promise<ApiClient> {
    this.connected ??= await ApiClient.connect(this.home);
    return this.connected;
  }

  /** The client and the targeted org/space (or a CliError saying how to target one). */
  protected async targeted(): Promise<{ client: ApiClient; target: Target }> {
    const client = await this.client();
    return { client, target: client.target.current() };
  }

  /** `in org devbox / space dev as admin`, as cf's progress lines say it. */
  protected where(target: Target): string {
    return `in org ${target.org.name} / space ${target.space.name} as ${target.user}`;
  }

  /** cf's target block: API endpoint and version, user, org and space (or how to target them). */
  protected targetBlock(client: ApiClient, apiVersion: string): string {
    const { org, space } = client.session;
    const lines = keyValues([
      ['API endpoint', client.session.api],
      ['API version', apiVersion],
      ['user', client.user],
      ...(org ? [['org', org.name] as [string, string]] : []),
      ...(org && space ? [['space', space.name] as [string, string]] : []),
    ]);
    if (!org) return `${lines}\nNo org or space targeted, use '${this.config.bin} target -o ORG -s SPACE'`;
    if (!space) return `${lines}\nNo space targeted, use '${this.config.bin} target -s SPACE'`;
    return lines;
  }

  /** Where long work (push, staging, starting) reports: progress steps, TIPs naming this CLI. */
  protected ui(): Ui {
    return {
      steps: createSteps(
        (text) => this.log(text),
        (text) => this.logToStderr(text),
      ),
      bin: this.config.bin,
      // TIPs point at `logs --recent` once the CLI has it (issue 6), at `events` before.
      logs: this.config.findCommand('logs') !== undefined,
    };
  }

  protected ok(): void {
    this.log(okText());
  }

  protected printJson(value: unknown): void {
    this.log(json(value));
  }
}
