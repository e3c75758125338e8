// Task requests (CC v3): create with a command (or a process to take it from), a name, memory and
// disk; update of metadata.
import { TASK_NAME } from '../../common/bus-messages.js';
import { unprocessable } from '../errors.js';
import { MAX_DISK_MB, MAX_MEMORY_MB } from './processes.js';
import { allowOnly, asObject, metadataUpdate, optionalInteger, optionalObject, optionalString, type Body } from './validate.js';

export interface TaskCreateMessage {
  command?: string;
  name?: string;
  memoryInMb?: number;
  diskInMb?: number;
  logRateLimit?: number;
  dropletGuid?: string;
  /** `template.process.guid`: the process whose command, memory and disk are the defaults. */
  templateProcessGuid?: string;
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
}

export function taskCreateMessage(raw: unknown): TaskCreateMessage {
  const body = asObject(raw);
  allowOnly(body, ['command', 'name', 'memory_in_mb', 'disk_in_mb', 'log_rate_limit_in_bytes_per_second', 'droplet_guid', 'template', 'metadata']);
  const command = optionalString(body, 'command', { max: 4096 });
  const template = optionalObject(body, 'template');
  let templateProcessGuid: string | undefined;
  if (template) {
    allowOnly(template, ['process']);
    const process = optionalObject(template, 'process');
    if (!process) throw unprocessable('Template must have a process');
    templateProcessGuid = optionalString(process, 'guid');
    if (!templateProcessGuid) throw unprocessable('Template process must have a guid');
  }
  if (command !== undefined && command.trim() === '') throw unprocessable("Command can't be blank");
  if (command === undefined && !templateProcessGuid) throw unprocessable('The request is semantically invalid: command must be given, or a template process to take it from');
  const name = optionalString(body, 'name');
  if (name !== undefined && !TASK_NAME.test(name)) throw unprocessable('Name must be 1 to 48 letters, digits, dots, dashes or underscores (it names the task in the logs: APP/TASK/<name>)');
  return {
    command,
    name,
    memoryInMb: optionalInteger(body, 'memory_in_mb', { min: 1, max: MAX_MEMORY_MB }),
    diskInMb: optionalInteger(body, 'disk_in_mb', { min: 1, max: MAX_DISK_MB }),
    logRateLimit: optionalInteger(body, 'log_rate_limit_in_bytes_per_second', { min: -1 }),
    dropletGuid: optionalString(body, 'droplet_guid'),
    templateProcessGuid,
    metadata: metadataUpdate(body, { labels: {}, annotations: {} }),
  };
}

export const taskUpdateMessage = (raw: unknown): Body => {
  const body = asObject(raw);
  allowOnly(body, ['metadata']);
  return body;
};
