import { Flags } from '@oclif/core';
import { DevboxCommand } from '../cli/base-command.js';
import { LocalBox } from '../cli/box.js';
import { formatBytes, table } from '../cli/output.js';
import { redactUrl } from '../runtime/common/log.js';

export default class Status extends DevboxCommand {
  static override description = 'Show the components of the running box: pid, status port, health, uptime and memory';

  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];

  static override flags = {
    json: Flags.boolean({ description: 'print JSON for scripts (nats_url with its credentials redacted, as the text shows it; the bus token is in config.json)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Status);
    const status = await new LocalBox(this.home).status();
    if (flags.json) {
      // No secret in any --json output: the bus URL as the text shows it.
      this.log(JSON.stringify({ ...status, nats_url: redactUrl(status.nats_url) }, null, 2));
      return;
    }
    this.log(`devbox is running in ${status.home} (supervisor pid ${status.supervisor_pid}, bus ${redactUrl(status.nats_url)})`);
    this.log(`cf api ${status.cf_api}`);
    if (status.cf_api_tls) this.log(`cf api ${status.cf_api_tls}   (HTTPS; the box's CA: ${status.ca_cert})`);
    if (status.ssh) this.log(`ssh    ${status.ssh.endpoint}   (cf ssh APP, devbox ssh APP; host key SHA256:${status.ssh.host_key_fingerprint ?? '?'})`);
    this.log('');
    this.log(
      table(
        ['component', 'pid', 'status port', 'healthy', 'uptime', 'memory'],
        status.components.map((c) => [c.name, c.pid ?? '-', c.status_port, c.healthy ? 'yes' : 'no', c.uptime ?? '-', c.rss_bytes ? formatBytes(c.rss_bytes) : '-']),
      ),
    );
    // What keeps apps apart (docs/security.md): said plainly where a DEA could not make containers.
    for (const c of status.components) {
      if (c.isolation?.containers === 'namespaces') this.log(`${c.name}: apps run in containers (${c.isolation.detail})`);
      else if (c.isolation) this.log(`${c.name}: WARNING ${c.isolation.detail}`);
    }
    if (status.components.some((c) => !c.healthy)) process.exitCode = 1;
  }
}
