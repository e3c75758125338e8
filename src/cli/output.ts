// How the CLI prints: cf-like text, aligned tables, and OK/FAILED (green/red only on a terminal).

/**
 * Colour on stdout: only at a terminal, and not when NO_COLOR is set (no-color.org) or CF_COLOR says
 * false (cf's switch: 0, f, false). Never in a pipe or a file, whatever CF_COLOR says.
 */
export function colorEnabled(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!stream.isTTY || env.NO_COLOR) return false;
  return !/^(0|f|false)$/i.test(env.CF_COLOR?.trim() ?? '');
}

/** `text` in the SGR colour `code` when `on`. */
export const paint = (code: string, text: string, on: boolean) => (on && text !== '' ? `\u001b[${code}m${text}\u001b[0m` : text);

const color = (code: string) => (text: string) => paint(code, text, colorEnabled());

export const bold = color('1');
export const green = color('32');
export const red = color('31');
export const okText = () => color('1;32')('OK');
export const failedText = () => color('1;31')('FAILED');
/** cf's "flavor" for the names in a progress line (`Retrieving logs for app APP in org ORG...`): bold cyan. */
export const flavor = color('1;36');

/** Aligns columns like the cf CLI: a bold header row, two spaces between columns. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  return cells
    .map((row, r) => {
      const line = row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('   ').trimEnd();
      return r === 0 ? bold(line) : line;
    })
    .join('\n');
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)}G`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(1)}M`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)}K`;
  return `${bytes}B`;
}

/** cf's `key:   value` blocks (`cf app`, `cf target`): values aligned three spaces after the longest key. */
export function keyValues(pairs: [string, string | number][]): string {
  const width = Math.max(...pairs.map(([key]) => key.length + 1));
  return pairs.map(([key, value]) => `${`${key}:`.padEnd(width)}   ${value}`.trimEnd()).join('\n');
}

/** A JSON body as `cf curl` prints it: indented by three spaces; anything that is not JSON as it came. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 3);
  } catch {
    return text;
  }
}

/** JSON for `--json`: two-space indent, one value. */
export const json = (value: unknown) => JSON.stringify(value, null, 2);

/**
 * A failure under `--json`, the only thing then printed on stdout (docs/cli.md, "JSON output"):
 * `{"error": {"message", "exit_code"}}`, plus `http_status`, `title` and `detail` when the API refused.
 */
export function errorJson(message: string, exitCode: number, extra: Record<string, unknown> = {}): string {
  return json({ error: { message, exit_code: exitCode, ...extra } });
}

/** Whether `--json` is on the command line (before a `--` that ends the flags). */
export function wantsJson(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--json') return true;
  }
  return false;
}

/**
 * The description column of `events`: the request an audit event records, as `key: value` pairs
 * (cf's way), or the event's other data when it has no request. Guids are left out.
 */
export function describeEventData(data: Record<string, unknown>): string {
  const source = data.request !== null && typeof data.request === 'object' && !Array.isArray(data.request) ? (data.request as Record<string, unknown>) : data;
  return Object.entries(source)
    .filter(([key, value]) => !key.endsWith('guid') && !key.endsWith('guids') && value !== undefined && value !== null)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}
