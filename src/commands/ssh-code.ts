import { ApiCommand } from '../cli/api-command.js';

export default class SshCode extends ApiCommand {
  static override description = `Print a one-time code for ssh, as 'cf ssh-code' does
The code is the password of the ssh proxy: ssh -p PORT cf:PROCESS_GUID/INDEX@HOST, with the proxy's address from links.app_ssh of '<%= config.bin %> curl /' (and 'devbox status'). It works once, within 5 minutes, for the user logged in.`;

  static override examples = ['<%= config.bin %> <%= command.id %>'];

  async run(): Promise<void> {
    await this.parse(SshCode);
    const client = await this.client();
    this.log(await client.ssh.code());
  }
}
