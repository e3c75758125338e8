import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { formatLogLine, logColor } from '../cli/log-format.js';
import { recentLogs, streamAppLogs } from '../cli/logs-client.js';
import { flavor } from '../cli/output.js';
import { requireArg } from '../cli/prompts.js';
import type { LogEnvelope } from '../runtime/common/bus-messages.js';

export default class Logs extends ApiCommand {
  static override description = "Tail an app's logs (until Ctrl-C), or show its recent lines with --recent";

  static override examples = [
    '<%= config.bin %> <%= command.id %> myapp',
    '<%= config.bin %> <%= command.id %> myapp --recent',
    '<%= config.bin %> <%= command.id %> myapp --recent --json',
  ];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    recent: Flags.boolean({ description: 'dump the recent lines (the logs component keeps the last 1,000 of each app) and exit' }),
    json: Flags.boolean({ description: 'print each line as its JSON envelope {timestamp (ns), app_guid, source_type, source_instance, message_type, message}, one per line' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Logs);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    const app = await client.apps.get(name);
    // cf's flavour: the names in bold cyan (at a terminal only, as every colour).
    if (!flags.json) this.log(`Retrieving logs for app ${flavor(name)} in org ${flavor(target.org.name)} / space ${flavor(target.space.name)} as ${flavor(target.user)}...\n`);
    const color = !flags.json && logColor();
    const print = (e: LogEnvelope) => this.log(flags.json ? JSON.stringify(e) : formatLogLine(e, { color }));

    if (flags.recent) {
      for (const envelope of await recentLogs(client, app.guid)) print(envelope);
      return;
    }

    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let away = false;
    try {
      const stream = await streamAppLogs(client, app.guid, {
        onLog: print,
        signal: stop.signal,
        // Said once per outage, on stderr: stdout stays the log lines alone.
        onStatus: (status) => {
          if (status.type === 'disconnected' && !away) process.stderr.write(`Lost the connection to the logs component (${status.reason}); reconnecting...\n`);
          else if (status.type === 'connected' && away) process.stderr.write('Reconnected to the logs component.\n');
          away = status.type === 'disconnected';
        },
      });
      await stream.done;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
