import { DevboxCommand } from '../cli/base-command.js';
import { LocalBox } from '../cli/box.js';
import { okText } from '../cli/output.js';

export default class Down extends DevboxCommand {
  static override description = 'Stop devbox; everything in the state directory is kept for the next `devbox up`';

  static override examples = ['<%= config.bin %> <%= command.id %>'];

  async run(): Promise<void> {
    await this.parse(Down);
    const box = new LocalBox(this.home);
    const running = box.supervisor();
    if (!running) {
      this.log(`devbox is not running (state in ${this.home}).`);
      return;
    }
    this.log(`Stopping devbox (supervisor pid ${running.pid})...`);
    await box.down();
    this.log(okText());
  }
}
