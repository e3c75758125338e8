import { ApiCommand } from '../cli/api-command.js';
import { Session } from '../cli/session.js';

export default class Logout extends ApiCommand {
  static override aliases = ['lo'];

  static override description = "Log out: forget the tokens. Nothing logs in again by itself until 'devbox login'.";

  static override examples = ['<%= config.bin %> <%= command.id %>'];

  async run(): Promise<void> {
    await this.parse(Logout);
    const user = Session.logout(this.home);
    this.log(user ? `Logging out ${user}...` : 'Logging out...');
    this.ok();
  }
}
