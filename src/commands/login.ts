import { Flags } from '@oclif/core';
import { ApiClient } from '../cli/api/client.js';
import { ApiCommand } from '../cli/api-command.js';
import { CliError } from '../cli/base-command.js';
import { choose, interactive, requireFlag } from '../cli/prompts.js';
import { loginEndpoint, Session } from '../cli/session.js';
import { AuthRefused } from '../cli/uaa-client.js';
import { LOCKED_DESCRIPTION } from '../runtime/uaa/lockout.js';

const ATTEMPTS = 3;

export default class Login extends ApiCommand {
  static override aliases = ['l'];

  static override description = `Log in to the box's uaa and target an org and space.
Not needed after 'devbox up': the CLI logs in as the box's admin by itself until you 'devbox logout'. At a terminal the user name and password are asked for; in scripts give -u and -p (the admin's are in config.json, uaa.admin).`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> -u admin -p "$PASSWORD"',
    '<%= config.bin %> <%= command.id %> -a http://api.localhost:8080 -u admin -p "$PASSWORD" -o devbox -s dev',
  ];

  static override flags = {
    api: Flags.string({ char: 'a', description: "API endpoint (default: the local box's, http://api.localhost:<router port>)" }),
    username: Flags.string({ char: 'u', description: 'user name' }),
    password: Flags.string({ char: 'p', description: 'password' }),
    org: Flags.string({ char: 'o', description: 'org to target' }),
    space: Flags.string({ char: 's', description: 'space to target' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Login);
    const endpoint = await loginEndpoint(this.home, flags.api);
    this.log(`API endpoint: ${endpoint.api}\n`);

    let session: Session | undefined;
    for (let attempt = 1; !session; attempt++) {
      const asked = flags.username === undefined || flags.password === undefined;
      const username = await requireFlag(flags.username, '-u USERNAME', 'Username');
      const password = await requireFlag(flags.password, '-p PASSWORD', 'Password', { secret: true });
      this.log('Authenticating...');
      try {
        session = await Session.login(this.home, { ...endpoint, username, password });
      } catch (error) {
        if (!(error instanceof AuthRefused)) throw error;
        // Asking again would only extend the lockout.
        if (error.description === LOCKED_DESCRIPTION) {
          throw new CliError(`${error.description} It lifts by itself after the lockout period (5 minutes after the last failed attempt, by default): try again then. A session you already have goes on meanwhile.`);
        }
        const retry = asked && interactive() && attempt < ATTEMPTS;
        if (retry) {
          this.logToStderr('Credentials were rejected, please try again.');
          continue;
        }
        const hint = endpoint.box ? ` The box's admin user and password are in ${this.home}/config.json (uaa.admin).` : '';
        throw new CliError(`Credentials were rejected (${error.message}). Check the user name and password.${hint}`);
      }
    }
    this.ok();
    this.log('');

    const client = new ApiClient(session);
    const ask = (kind: 'org' | 'space', names: string[]) => choose(`Select ${kind === 'org' ? 'an org' : 'a space'}:`, names.map((name) => ({ name, value: name })));
    const { org, space } = await client.target.afterLogin(flags.org, flags.space, ask);
    if (org) this.log(`Targeted org ${org.name}.\n`);
    if (space) this.log(`Targeted space ${space.name}.\n`);
    this.log(this.targetBlock(client, await client.apiVersion()));
  }
}
