import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { CliError } from '../cli/base-command.js';
import { requireArg } from '../cli/prompts.js';
import { parseLocalForward, runSsh, type TtyRequest } from '../cli/ssh-session.js';

export default class Ssh extends ApiCommand {
  static override description = `SSH to an application container instance
A shell (or the command given with -c) runs in the instance's container, with the instance's environment (VCAP_SERVICES, PORT, …) in /home/vcap/app, as on Cloud Foundry. The exit status is the command's. -L forwards a local port to an address as the instance sees it (e.g. a bound database). Needs ssh enabled for the app and its space ('<%= config.bin %> ssh-enabled APP').`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> myapp',
    '<%= config.bin %> <%= command.id %> myapp -c "env | grep VCAP"',
    '<%= config.bin %> <%= command.id %> myapp --process worker -i 1',
    '<%= config.bin %> <%= command.id %> myapp -N -L 9000:localhost:8080',
  ];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    'app-instance-index': Flags.integer({ char: 'i', description: 'app process instance index', default: 0, min: 0 }),
    process: Flags.string({ description: 'app process name', default: 'web' }),
    command: Flags.string({ char: 'c', description: 'command to run (repeat: the parts are joined with spaces, as cf)', multiple: true }),
    L: Flags.string({ char: 'L', description: 'local port forward specification: [BIND_ADDRESS:]LOCAL_PORT:REMOTE_HOST:REMOTE_PORT', multiple: true }),
    'skip-remote-execution': Flags.boolean({ char: 'N', description: 'do not run a remote command (only forward ports)' }),
    'disable-pseudo-tty': Flags.boolean({ char: 'T', description: 'disable pseudo-tty allocation' }),
    'force-pseudo-tty': Flags.boolean({ description: 'force pseudo-tty allocation' }),
    'request-pseudo-tty': Flags.boolean({ char: 't', description: 'request pseudo-tty allocation' }),
    'skip-host-validation': Flags.boolean({ char: 'k', description: 'skip host key validation. Not recommended!' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Ssh);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const tty = ttyRequest(flags);
    const forwards = (flags.L ?? []).map(parseLocalForward);
    const { client } = await this.targeted();
    const login = await client.ssh.login(name, flags.process, flags['app-instance-index']);
    const code = await client.ssh.code(login.oauthClient);
    process.exitCode = await runSsh({
      endpoint: login.endpoint,
      hostKeyFingerprint: login.hostKeyFingerprint,
      skipHostValidation: flags['skip-host-validation'],
      username: login.username,
      code,
      command: flags.command?.join(' '),
      tty,
      forwards,
      skipRemoteExecution: flags['skip-remote-execution'],
      whyRefused: async () => {
        const state = await client.ssh.enabled(login.appGuid);
        if (state.enabled) return undefined;
        const enable = state.reason.includes('space') ? `${this.config.bin} allow-space-ssh SPACE` : `${this.config.bin} enable-ssh ${name}`;
        return `${state.reason}: enable it with '${enable}'`;
      },
    });
  }
}

function ttyRequest(flags: { 'disable-pseudo-tty': boolean; 'force-pseudo-tty': boolean; 'request-pseudo-tty': boolean }): TtyRequest {
  const chosen: TtyRequest[] = [];
  if (flags['disable-pseudo-tty']) chosen.push('no');
  if (flags['force-pseudo-tty']) chosen.push('force');
  if (flags['request-pseudo-tty']) chosen.push('yes');
  if (chosen.length > 1) throw new CliError('Incorrect Usage: The following arguments cannot be used together: --disable-pseudo-tty, -T, --force-pseudo-tty, --request-pseudo-tty, -t');
  return chosen[0] ?? 'auto';
}
