import fs from 'node:fs';
import path from 'node:path';
import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { ApiRequestError } from '../cli/api/transport.js';
import { CliError } from '../cli/base-command.js';
import { requireArg } from '../cli/prompts.js';

/** cf 8's file name when `-p` is not given (or names a directory): `<APP>_manifest.yml`. */
export const manifestFileName = (app: string) => `${app}_manifest.yml`;

/**
 * Where the manifest goes: `-p` as given, inside it when it is a directory (cf would fail to write
 * there), else `<APP>_manifest.yml` in the current directory (an absolute path, as cf prints it).
 */
export function manifestPath(app: string, given: string | undefined, cwd = process.cwd()): string {
  if (!given) return path.join(cwd, manifestFileName(app));
  const isDirectory = fs.statSync(path.resolve(cwd, given), { throwIfNoEntry: false })?.isDirectory() ?? false;
  return isDirectory ? path.join(given, manifestFileName(app)) : given;
}

export default class CreateAppManifest extends ApiCommand {
  static override description = `Create an app manifest for an app that has been pushed successfully
The manifest is the API's own rendering of the app (GET /v3/apps/:guid/manifest): name, env, buildpacks, stack, services, routes, and each process with its instances, memory, disk, command and health check, and sidecars. Pushing it (push -f FILE -p APP_DIR) makes the same app again.`;

  static override examples = [
    { description: 'Write myapp_manifest.yml in the current directory', command: '<%= config.bin %> <%= command.id %> myapp' },
    { description: 'Write it elsewhere', command: '<%= config.bin %> <%= command.id %> myapp -p ./manifest.yml' },
    { description: 'Make the app again from it', command: '<%= config.bin %> push -f ./manifest.yml -p ./myapp' },
  ];

  static override args = {
    app: Args.string({ description: 'app name' }),
  };

  static override flags = {
    path: Flags.string({ char: 'p', description: 'where to write the manifest (a directory: APP_manifest.yml in it). Default: APP_manifest.yml in the current directory' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CreateAppManifest);
    const name = await requireArg(args.app, 'APP_NAME', 'App name');
    const { client, target } = await this.targeted();
    this.log(`Creating an app manifest from current settings of app ${name} ${this.where(target)}...`);
    const app = await client.apps.get(name);
    const url = `/v3/apps/${app.guid}/manifest`;
    const res = await client.send('GET', url, { headers: { accept: 'application/x-yaml' } });
    if (res.status >= 400) {
      let error: { title?: string; detail?: string } | undefined;
      try {
        error = (JSON.parse(res.text) as { errors?: { title?: string; detail?: string }[] }).errors?.[0];
      } catch {
        // not a Cloud Controller error: said below with the status
      }
      throw new ApiRequestError(error?.detail ?? `The API answered GET ${url} with HTTP ${res.status}`, res.status, error?.title, error?.detail);
    }
    const file = manifestPath(name, flags.path);
    try {
      fs.writeFileSync(file, res.text);
    } catch (error) {
      throw new CliError(`Error creating manifest file: ${(error as Error).message}`);
    }
    this.log(`Manifest file created successfully at ${file}`);
    this.ok();
  }
}
