import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { requireArg } from '../cli/prompts.js';

/** cf prints system-provided values as JSON indented by one space, keys sorted. */
const systemLines = (vars: Record<string, unknown>) => Object.keys(vars).sort().map((key) => `${key}: ${JSON.stringify(vars[key], null, 1)}\n`);
const plainLines = (vars: Record<string, unknown>) => Object.keys(vars).sort().map((key) => `${key}: ${typeof vars[key] === 'string' ? vars[key] : JSON.stringify(vars[key])}`);

export default class Env extends ApiCommand {
  static override aliases = ['e'];

  static override description = "Show an app's environment: system-provided (VCAP_SERVICES, VCAP_APPLICATION) and user-provided variables";

  static override examples = ['<%= config.bin %> <%= command.id %> myapp', '<%= config.bin %> <%= command.id %> myapp --json'];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    json: Flags.boolean({ description: "print the API's /v3/apps/:guid/env document" }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Env);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    if (!flags.json) this.log(`Getting env variables for app ${name} ${this.where(target)}...`);
    const app = await client.apps.get(name);
    const env = await client.apps.environment(app.guid);
    if (flags.json) return this.printJson(env);

    const system = env.system_env_json ?? {};
    const application = env.application_env_json ?? {};
    const out: string[] = [];
    if (Object.keys(system).length > 0 || Object.keys(application).length > 0) {
      out.push('System-Provided:', ...systemLines(system));
      if (Object.keys(application).length > 0) out.push(...systemLines(application));
    } else {
      out.push('No system-provided env variables have been set\n');
    }
    const user = env.environment_variables ?? {};
    out.push(...(Object.keys(user).length > 0 ? ['User-Provided:', ...plainLines(user), ''] : ['No user-provided env variables have been set\n']));
    const running = env.running_env_json ?? {};
    out.push(...(Object.keys(running).length > 0 ? ['Running Environment Variable Groups:', ...plainLines(running), ''] : ['No running env variables have been set\n']));
    const staging = env.staging_env_json ?? {};
    out.push(...(Object.keys(staging).length > 0 ? ['Staging Environment Variable Groups:', ...plainLines(staging), ''] : ['No staging env variables have been set\n']));
    this.log(out.join('\n'));
  }
}
