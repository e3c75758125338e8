import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { renderAppSummary } from '../cli/app-view.js';
import { CliError } from '../cli/base-command.js';
import { findManifestIn, MAX_TIMEOUT_SECONDS, normalizeBuildpacks, readManifest, type AppManifest } from '../cli/manifest.js';
import { requireArg } from '../cli/prompts.js';
import { STRATEGIES } from '../cli/lifecycle.js';
import { planPush, pushApp } from '../cli/push.js';
import { sizeFlag } from '../cli/units.js';

export default class Push extends ApiCommand {
  static override aliases = ['p'];

  static override description = `Push a new app or sync changes to an existing app
Uploads the app's directory (only files the box does not have yet; .cfignore is honoured), stages it with a buildpack, starts it and waits until its instances run, then shows the app. Settings come from manifest.yml in the current directory (or -f), and flags override them for a single app. See docs/push.md.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> myapp',
    '<%= config.bin %> <%= command.id %> myapp -p ./build -m 128M -i 2',
    '<%= config.bin %> <%= command.id %> myapp -b binary -c ./serve',
    '<%= config.bin %> <%= command.id %> -f deploy/manifest.yml',
  ];

  static override args = {
    name: Args.string({ description: 'app name (from the manifest when omitted)' }),
  };

  static override flags = {
    path: Flags.string({ char: 'p', description: "the app's directory (default: the current directory)" }),
    manifest: Flags.string({ char: 'f', description: 'path to a manifest (default: manifest.yml in the current directory)' }),
    'no-manifest': Flags.boolean({ description: 'ignore manifest.yml in the current directory' }),
    memory: Flags.string({ char: 'm', description: 'memory limit per instance, e.g. 256M, 1G' }),
    disk: Flags.string({ char: 'k', description: 'disk limit per instance, e.g. 512M, 1G' }),
    instances: Flags.integer({ char: 'i', description: 'number of instances', min: 0, max: 1000 }),
    buildpack: Flags.string({ char: 'b', description: "buildpack: java, ruby, nodejs, go, python, php, staticfile, binary (or CF's names, e.g. go_buildpack), or a buildpack directory; 'default' to detect (repeat for several)", multiple: true }),
    command: Flags.string({ char: 'c', description: "start command; 'null' for the buildpack's" }),
    'no-start': Flags.boolean({ description: 'upload the app but do not stage or start it (a started app is stopped)' }),
    strategy: Flags.string({ description: "replace a started app's instances with no downtime: rolling", options: [...STRATEGIES] }),
    'no-wait': Flags.boolean({ description: 'with --strategy rolling: return once a first new instance runs' }),
    'no-route': Flags.boolean({ description: 'map no route to the app (and unmap the routes it has)' }),
    'random-route': Flags.boolean({ description: 'a random host for the default route (when the app has no route yet)' }),
    'health-check-type': Flags.string({ char: 'u', description: 'how the DEA knows an instance is healthy', options: ['port', 'http', 'process', 'none'] }),
    endpoint: Flags.string({ description: 'path the http health check requests (expects 200)' }),
    'app-start-timeout': Flags.integer({ char: 't', description: 'seconds an instance may take to become healthy (default 60)', min: 1, max: MAX_TIMEOUT_SECONDS }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Push);
    const cwd = process.cwd();
    if (flags['no-manifest'] && flags.manifest) throw new CliError('Incorrect Usage: The following arguments cannot be used together: -f, --no-manifest', 2);
    const overrides: AppManifest = {
      path: flags.path === undefined ? undefined : path.resolve(cwd, flags.path),
      memory: sizeFlag('-m', flags.memory),
      disk: sizeFlag('-k', flags.disk),
      instances: flags.instances,
      buildpacks: flags.buildpack === undefined ? undefined : normalizeBuildpacks(flags.buildpack, cwd),
      command: flags.command === undefined ? undefined : flags.command === 'null' || flags.command === 'default' ? null : flags.command,
      noRoute: flags['no-route'] || undefined,
      randomRoute: flags['random-route'] || undefined,
      healthCheckType: flags['health-check-type'] === undefined ? undefined : flags['health-check-type'] === 'none' ? 'process' : (flags['health-check-type'] as AppManifest['healthCheckType']),
      healthCheckEndpoint: flags.endpoint,
      timeout: flags['app-start-timeout'],
    };
    if (flags.endpoint !== undefined && !flags.endpoint.startsWith('/')) throw new CliError(`Incorrect Usage: --endpoint must be a path starting with /, got '${flags.endpoint}'`, 2);

    const manifestFile = flags.manifest ?? (flags['no-manifest'] ? undefined : findManifestIn(cwd));
    const manifest = manifestFile === undefined ? undefined : readManifest(path.resolve(cwd, manifestFile));
    for (const warning of manifest?.warnings ?? []) this.logToStderr(`Warning: ${warning}`);
    const name = manifest || args.name ? args.name : await requireArg(args.name, 'APP_NAME', 'App name');
    const plans = planPush({ manifest, name, overrides, cwd });

    const { client, target } = await this.targeted();
    const ui = this.ui();
    const names = plans.map((p) => p.name).join(', ');
    this.log(`Pushing app${plans.length > 1 ? 's' : ''} ${names} to org ${target.org.name} / space ${target.space.name} as ${target.user}...`);
    if (manifest?.file) this.log(`Applying manifest file ${manifest.file}...`);
    for (const [i, plan] of plans.entries()) {
      if (plans.length > 1) this.log(`${i === 0 ? '' : '\n'}Pushing app ${plan.name}...`);
      await pushApp(client, plan, { noStart: flags['no-start'], space: target.space, ui, strategy: flags.strategy === 'rolling' ? 'rolling' : undefined, noWait: flags['no-wait'] });
      this.log('');
      const summary = await client.apps.summary(plan.name);
      this.log(renderAppSummary(summary));
      // Cloud Foundry gives a process other than web no instances unless the manifest says otherwise.
      const idle = summary.processes.filter((p) => p.type !== 'web' && p.instances === 0);
      if (idle.length > 0) this.log('');
      for (const p of idle) this.log(`TIP: process ${p.type} has no instances: '${this.config.bin} scale ${plan.name} --process ${p.type} -i 1' starts one.`);
    }
  }
}
