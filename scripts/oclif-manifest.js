// Writes oclif.manifest.json after a build, so the CLI reads commands' flags and descriptions from
// it and imports only the command being run (instead of every command at each start).
import fs from 'node:fs';
import { Config } from '@oclif/core';

const root = new URL('..', import.meta.url).pathname;
fs.rmSync(`${root}/oclif.manifest.json`, { force: true });
const config = await Config.load({ root });
const manifest = config.getPluginsList().find((p) => p.isRoot).manifest;
fs.writeFileSync(`${root}/oclif.manifest.json`, `${JSON.stringify(manifest)}\n`);
console.log(`oclif.manifest.json: ${Object.keys(manifest.commands).length} commands`);
