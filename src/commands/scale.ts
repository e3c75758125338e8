import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { CliError } from '../cli/base-command.js';
import { renderAppSummary } from '../cli/app-view.js';
import { waitForStart } from '../cli/lifecycle.js';
import { keyValues } from '../cli/output.js';
import { confirmOrForce, requireArg } from '../cli/prompts.js';
import { formatMegabytes, sizeFlag } from '../cli/units.js';

export default class Scale extends ApiCommand {
  static override description = `Change or show the instances, memory and disk of an app's process
Sizes take a unit as in cf: M, MB, G, GB (e.g. 256M, 1G). New memory or disk limits need new instances: for a started app the CLI asks first (-f skips the question), then waits until the restarted instances run.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> myapp',
    '<%= config.bin %> <%= command.id %> myapp -i 3',
    '<%= config.bin %> <%= command.id %> myapp -m 512M -k 2G -f',
  ];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    instances: Flags.integer({ char: 'i', description: 'number of instances', min: 0 }),
    memory: Flags.string({ char: 'm', description: 'memory limit per instance, e.g. 256M, 1G' }),
    disk: Flags.string({ char: 'k', description: 'disk limit per instance, e.g. 512M, 1G' }),
    process: Flags.string({ description: 'process type to scale', default: 'web' }),
    force: Flags.boolean({ char: 'f', description: 'scale memory or disk of a started app without asking' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Scale);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const change = { instances: flags.instances, memory_in_mb: sizeFlag('-m', flags.memory), disk_in_mb: sizeFlag('-k', flags.disk) };
    const { client, target } = await this.targeted();
    if (Object.values(change).every((v) => v === undefined)) {
      this.log(`Showing current scale of app ${name} ${this.where(target)}...\n`);
      const { processes } = await client.apps.summary(name);
      this.log(processes.map((p) => this.processBlock(p)).join('\n\n'));
      return;
    }
    const app = await client.apps.get(name);
    const types = (await client.processes.ofApp(app.guid)).map((p) => p.type);
    if (!types.includes(flags.process)) {
      throw new CliError(`App ${name} has no process of type '${flags.process}': its processes are ${types.join(', ')}. Process types come from the app's Procfile (or its buildpack) and the manifest's processes:.`);
    }
    if (app.state === 'STARTED' && (change.memory_in_mb !== undefined || change.disk_in_mb !== undefined)) {
      const sure = await confirmOrForce(`This will cause the app to restart. Are you sure you want to scale ${name}?`, {
        force: flags.force,
        refusal: `Not scaling app ${name}: new memory or disk limits restart its instances, and there is no terminal to ask. Add -f to scale anyway.`,
      });
      if (!sure) return this.log('Scaling cancelled');
    }
    this.log(`Scaling app ${name} ${this.where(target)}...`);
    const process = await client.processes.scale(app.guid, flags.process, change);
    this.ok();
    this.log('');
    if (app.state !== 'STARTED') {
      this.log(this.processBlock({ type: process.type, instances: process.instances, memory_in_mb: process.memory_in_mb, disk_in_mb: process.disk_in_mb }));
      return;
    }
    // New limits restarted the instances (the API did that): wait for them as cf does. Instances alone: show them as they are.
    if (change.memory_in_mb !== undefined || change.disk_in_mb !== undefined) {
      const ui = this.ui();
      await waitForStart(client, app, new Date(process.updated_at), ui);
      this.log('');
    }
    this.log(renderAppSummary(await client.apps.summary(name)));
  }

  private processBlock(p: { type: string; instances: number; memory_in_mb: number; disk_in_mb: number }): string {
    return keyValues([
      ['type', p.type],
      ['instances', p.instances],
      ['memory', formatMegabytes(p.memory_in_mb)],
      ['disk', formatMegabytes(p.disk_in_mb)],
    ]);
  }
}
