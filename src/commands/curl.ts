import fs from 'node:fs';
import http from 'node:http';
import { Args, Flags } from '@oclif/core';
import { ApiCommand } from '../cli/api-command.js';
import { CliError } from '../cli/base-command.js';
import { prettyJson } from '../cli/output.js';
import { requireArg } from '../cli/prompts.js';

export default class Curl extends ApiCommand {
  static override description = `Send a request to the API with the CLI's token and print the answer (JSON pretty-printed), as 'cf curl' does
HTTP errors are printed like any answer and exit 0, unless --fail is given.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> /v3/apps',
    `<%= config.bin %> <%= command.id %> /v3/apps -X POST -d '{"name":"myapp","relationships":{"space":{"data":{"guid":"..."}}}}'`,
    '<%= config.bin %> <%= command.id %> /v3/apps/GUID -X DELETE -i',
  ];

  static override args = {
    path: Args.string({ description: 'path of the API request, e.g. /v3/apps?names=myapp' }),
  };

  static override flags = {
    method: Flags.string({ char: 'X', description: 'HTTP method (default GET, or POST when -d is given)' }),
    data: Flags.string({ char: 'd', description: 'request body; @FILE reads it from a file' }),
    header: Flags.string({ char: 'H', description: "request header 'Name: value' (repeatable)", multiple: true, multipleNonGreedy: true }),
    include: Flags.boolean({ char: 'i', description: 'print the response status line and headers too' }),
    fail: Flags.boolean({ description: 'exit 1 when the API answers with an HTTP error (400 or more)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Curl);
    const given = await requireArg(args.path, 'PATH', 'Path (e.g. /v3/apps)');
    const path = given.startsWith('/') ? given : `/${given}`;
    const headers: Record<string, string> = {};
    for (const header of flags.header ?? []) {
      const colon = header.indexOf(':');
      if (colon <= 0) throw new CliError(`Incorrect Usage: -H expects 'Name: value', got '${header}'`, 2);
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    }
    let body: string | undefined;
    if (flags.data !== undefined) {
      if (flags.data.startsWith('@')) {
        const file = flags.data.slice(1);
        try {
          body = fs.readFileSync(file, 'utf8');
        } catch (error) {
          throw new CliError(`cannot read the request body from ${file}: ${(error as Error).message}`);
        }
      } else body = flags.data;
    }
    const method = (flags.method ?? (body !== undefined ? 'POST' : 'GET')).toUpperCase();
    const client = await this.client();
    const res = await client.send(method, path, { body, headers });
    if (flags.include) {
      this.log(`HTTP/1.1 ${res.status} ${http.STATUS_CODES[res.status] ?? ''}`.trimEnd());
      for (const [name, value] of Object.entries(res.headers)) {
        for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) this.log(`${name}: ${v}`);
      }
      this.log('');
    }
    if (res.text !== '') this.log(prettyJson(res.text));
    if (flags.fail && res.status >= 400) {
      this.logToStderr(`The requested URL returned error: ${res.status}`);
      process.exitCode = 1;
    }
  }
}
