// Sidecar requests (CC v3's SidecarCreateMessage and SidecarUpdateMessage, and the model's checks):
// a name, a command, the process types it runs with and the memory it reserves, with Cloud
// Controller's words. A manifest's `sidecars:` entries are checked by the same rules
// (sidecarProblems), each problem then named by its sidecar.
import { MAX_LOG_SOURCE, SIDECAR_NAME, sidecarSourceType } from '../../common/bus-messages.js';
import { unprocessable } from '../errors.js';
import { allowOnly, asObject, type Body } from './validate.js';

/** What a request sets: a create gives name, command and process types; an update any of them. */
export interface SidecarFields {
  name?: string;
  command?: string;
  /** Without duplicates, in the order given. */
  processTypes?: string[];
  /** null: no memory of its own (an update with null takes it away). */
  memoryInMb?: number | null;
}

export interface SidecarCreateMessage extends SidecarFields {
  name: string;
  command: string;
  processTypes: string[];
}

const FIELDS = ['name', 'command', 'process_types', 'memory_in_mb'];
const MAX_NAME = 255;
const MAX_COMMAND = 4096;
const MAX_TYPE = 255;

/**
 * The fields of a sidecar request and every problem with them, as Cloud Controller words them.
 * `create`: name, command and process types must be given (an update sets what it gives).
 */
export function sidecarProblems(body: Body, create: boolean): { fields: SidecarFields; problems: string[] } {
  const problems: string[] = [];
  const fields: SidecarFields = {};
  const text = (key: 'name' | 'command', label: string, max: number): string | undefined => {
    const value = body[key];
    if (value === undefined && !create) return undefined;
    if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return void problems.push(`${label} can't be blank`);
    if (typeof value !== 'string') return void problems.push(`${label} must be a string`);
    if (value.length > max) return void problems.push(`${label} is too long (maximum is ${max} characters)`);
    return value;
  };
  fields.name = text('name', 'Name', MAX_NAME);
  // devbox's rule (Cloud Controller takes any string): the name is a log source and part of an environment variable.
  if (fields.name !== undefined && !SIDECAR_NAME.test(fields.name)) {
    problems.push('Name must be 1 to 48 letters, digits, dots, dashes or underscores (it names the sidecar in the logs, APP/PROC/<TYPE>/SIDECAR/<NAME>, and in SIDECAR_<NAME>_PORT)');
    fields.name = undefined;
  }
  fields.command = text('command', 'Command', MAX_COMMAND);

  const types = body.process_types;
  if (types !== undefined || create) {
    if (!Array.isArray(types)) problems.push('Process types must be an array');
    else if (types.length === 0) problems.push('Process types must have at least 1 process_type');
    else if (types.some((t) => typeof t !== 'string' || t.trim() === '')) problems.push('Process types must be an array of process type names');
    else if (types.some((t: string) => t.length > MAX_TYPE)) problems.push(`Process type is too long (maximum is ${MAX_TYPE} characters)`);
    else {
      const duplicate = types.find((t, i) => types.indexOf(t) !== i) as string | undefined;
      if (duplicate !== undefined) problems.push(`Sidecar is already associated with process type ${duplicate}`);
      else fields.processTypes = types as string[];
    }
  }

  const memory = body.memory_in_mb;
  if (memory === null) fields.memoryInMb = null;
  else if (memory !== undefined) {
    if (typeof memory !== 'number') problems.push('Memory in mb is not a number');
    else if (!Number.isInteger(memory)) problems.push('Memory in mb must be an integer');
    else if (memory <= 0) problems.push('Memory in mb must be greater than 0');
    else fields.memoryInMb = memory;
  }
  return { fields, problems };
}

/**
 * A problem when the log source of the sidecar beside a process of one of the types
 * (`APP/PROC/<TYPE>/SIDECAR/<NAME>`) would be longer than a log line's source may be.
 */
export function logSourceProblem(name: string, processTypes: string[]): string | undefined {
  const long = processTypes.find((type) => sidecarSourceType(type, name).length > MAX_LOG_SOURCE);
  if (long === undefined) return undefined;
  return `Name is too long for process type ${long}: its log source, ${sidecarSourceType(long, name)}, may have at most ${MAX_LOG_SOURCE} characters`;
}

function checked(raw: unknown, create: boolean): SidecarFields {
  const body = asObject(raw);
  allowOnly(body, FIELDS);
  const { fields, problems } = sidecarProblems(body, create);
  // Cloud Controller answers every problem of the message in one detail.
  if (problems.length > 0) throw unprocessable(problems.join(', '));
  if (fields.name !== undefined && fields.processTypes !== undefined) {
    const problem = logSourceProblem(fields.name, fields.processTypes);
    if (problem) throw unprocessable(problem);
  }
  return fields;
}

export const sidecarCreateMessage = (raw: unknown): SidecarCreateMessage => checked(raw, true) as SidecarCreateMessage;

export const sidecarUpdateMessage = (raw: unknown): SidecarFields => checked(raw, false);
