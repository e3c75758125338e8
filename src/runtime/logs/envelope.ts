// Reading log envelopes off the bus (and back from disk): anything that is not a well-formed
// envelope for the app its subject names is refused, so that one bad publisher cannot put garbage in
// an app's logs, in its file name or in the clients' streams.
import type { LogEnvelope } from '../common/app-log.js';
import { isSubjectToken } from '../common/bus.js';
/** A source type: `APP/PROC/WEB`, `RTR`, ... (upper-case words separated by `/`), up to 64 characters. */
const SOURCE_TYPE = /^[A-Z][A-Z0-9_]*(?:\/[A-Z0-9_]+)*$/;
const MAX_SOURCE = 64;
/** The DEA cuts lines at 64 KiB; a little more is accepted, anything larger is not a log line. */
export const MAX_MESSAGE_LENGTH = 128 * 1024;

/** An app guid as it may appear in a subject and a file name. */
export const isAppGuid = isSubjectToken;

/** The app guid of a `logs.<guid>` subject, or undefined when the subject is not one. */
export function subjectGuid(subject: string): string | undefined {
  if (!subject.startsWith('logs.')) return undefined;
  const guid = subject.slice(5);
  return isAppGuid(guid) ? guid : undefined;
}

/** A stored line: the envelope, and its JSON (sent to clients and written to disk as it is). */
export interface LogRecord {
  envelope: LogEnvelope;
  json: string;
}

/**
 * The envelope in `value` (a parsed JSON payload), normalised to exactly the envelope's fields, or
 * undefined when it is malformed. `guid`, when given, must be its app guid (the subject's).
 */
export function toEnvelope(value: unknown, guid?: string): LogEnvelope | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const { timestamp, app_guid, source_type, message_type, message } = v;
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp) || timestamp < 0) return undefined;
  if (typeof app_guid !== 'string' || !isAppGuid(app_guid) || (guid !== undefined && app_guid !== guid)) return undefined;
  if (typeof source_type !== 'string' || source_type.length > MAX_SOURCE || !SOURCE_TYPE.test(source_type)) return undefined;
  // The index is a string in the envelope; a number is taken as the same index.
  const instance = typeof v.source_instance === 'number' && Number.isInteger(v.source_instance) ? String(v.source_instance) : v.source_instance;
  if (typeof instance !== 'string' || instance.length > MAX_SOURCE) return undefined;
  if (message_type !== 'OUT' && message_type !== 'ERR') return undefined;
  if (typeof message !== 'string' || message.length > MAX_MESSAGE_LENGTH) return undefined;
  return { timestamp, app_guid, source_type: source_type as LogEnvelope['source_type'], source_instance: instance, message_type, message };
}

/** A record of a payload from the bus or a line from disk; undefined when malformed. */
export function parseRecord(text: string, guid?: string): LogRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const envelope = toEnvelope(value, guid);
  return envelope && { envelope, json: JSON.stringify(envelope) };
}
