// Log envelopes off the bus (and back from disk): anything that is not a well-formed envelope
// (appLogs in common/bus-messages.ts) for the app its subject names is refused, so that one bad
// publisher cannot put garbage in an app's logs, in its file name or in the clients' streams.
import { isSubjectToken } from '../common/bus.js';
import { allAppLogs, type LogEnvelope } from '../common/bus-messages.js';

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

/** The record of an envelope that passed its check, cut to exactly the envelope's fields. */
export function toRecord({ timestamp, app_guid, source_type, source_instance, message_type, message }: LogEnvelope): LogRecord {
  const envelope: LogEnvelope = { timestamp, app_guid, source_type, source_instance, message_type, message };
  return { envelope, json: JSON.stringify(envelope) };
}

/** A record of a line from disk, or undefined when it is not a well-formed envelope of app `guid`. */
export function parseRecord(text: string, guid?: string): LogRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!allAppLogs.check.is(value) || (guid !== undefined && value.app_guid !== guid)) return undefined;
  return toRecord(value);
}
