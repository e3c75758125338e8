// Structured logging: one JSON object per line on stdout. Under the supervisor, stdout goes to
// logs/<component>.log; run alone (another machine), it goes to the terminal. Values under keys
// that name secrets are replaced so that tokens and passwords never reach a log.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

const SECRET_KEY = /token|password|passwd|pass$|secret|credentials|authorization|private_key/i;
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { message: value.message, name: value.name };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

/** Strips credentials from a URL-ish string (nats://token@host, mysql://u:p@host). */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, '//[redacted]@');
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go: stdout by default (the supervisor points it at logs/<component>.log). */
  write?: (line: string) => void;
  base?: LogFields;
}

export function createLogger(
  component: string,
  { level = (process.env.DEVBOX_LOG_LEVEL as LogLevel) || 'info', write = (line) => void process.stdout.write(line), base = {} }: LoggerOptions = {},
): Logger {
  const min = LEVELS[level] ?? LEVELS.info;
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVELS[lvl] < min) return;
    const record = { time: new Date().toISOString(), level: lvl, component, msg, ...(redact({ ...base, ...fields }) as LogFields) };
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger(component, { level, write, base: { ...base, ...fields } }),
  };
}
