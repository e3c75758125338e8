// Sidecars (CC v3): commands that run beside every instance of an app's processes of the given
// types, in the same container (docs/controller.md, "Sidecars"). Creating, changing or deleting
// one changes no running instance: instances get their sidecars when they start (a restart, a
// push, a crash restarted), as on Cloud Foundry. Cloud Controller records no audit event for them,
// and neither does devbox.
import { sidecarPortVariable, type SidecarStart } from '../../common/bus-messages.js';
import { newGuid, now, type RequestContext } from '../context.js';
import { unprocessable } from '../errors.js';
import { logSourceProblem, type SidecarCreateMessage, type SidecarFields } from '../messages/sidecars.js';
import { listProcessesOfApp, type AppRow, type ProcessRow } from '../repositories/apps.js';
import { isUniqueViolation, type Db } from '../repositories/query.js';
import { deleteSidecar, insertSidecar, setSidecarProcessTypes, sidecarsOfApp, sidecarsOfProcessType, updateSidecar, type Sidecar } from '../repositories/sidecars.js';

type SidecarShape = Pick<Sidecar, 'name' | 'process_types' | 'memory_in_mb'>;

const nameTaken = (name: string) => unprocessable(`Sidecar with name '${name}' already exists for given app`);

/**
 * Cloud Controller's SidecarMemoryLessThanProcessMemoryPolicy: the memory the sidecars of a
 * process reserve must be less than the process's. `sidecars` are all the app's (as they would be).
 */
function memoryProblem(processes: Pick<ProcessRow, 'type' | 'memory_in_mb'>[], sidecars: SidecarShape[]): string | undefined {
  for (const process of processes) {
    const total = sidecars.filter((s) => s.process_types.includes(process.type)).reduce((sum, s) => sum + (s.memory_in_mb ?? 0), 0);
    if (total > 0 && total >= process.memory_in_mb) return `The memory allocation defined is too large to run with the dependent "${process.type}" process`;
  }
  return undefined;
}

/**
 * devbox's rule: two sidecars of an app may not share their `SIDECAR_<NAME>_PORT` (names that differ
 * only in case or punctuation; in case alone, they would share a log source too). `others` are the
 * app's other sidecars.
 */
function portVariableProblem(name: string, others: Pick<Sidecar, 'name'>[]): string | undefined {
  const variable = sidecarPortVariable(name);
  const clash = others.find((s) => s.name !== name && sidecarPortVariable(s.name) === variable);
  return clash ? `Sidecar name '${name}' would give the same ${variable} as the app's sidecar '${clash.name}': give it another name` : undefined;
}

/** The first problem of a sidecar as it would be, among the app's other sidecars and with its processes. */
function problems(sidecar: SidecarShape, others: Sidecar[], processes: ProcessRow[], checkMemory: boolean): string | undefined {
  if (others.some((s) => s.name === sidecar.name)) return nameTaken(sidecar.name).detail;
  return (
    logSourceProblem(sidecar.name, sidecar.process_types) ??
    portVariableProblem(sidecar.name, others) ??
    (checkMemory ? memoryProblem(processes.filter((p) => sidecar.process_types.includes(p.type)), [...others, sidecar]) : undefined)
  );
}

/** A new sidecar of the app, with the given settings (origin `user`). */
export function newSidecar(appGuid: string, message: SidecarCreateMessage, at: string): Sidecar {
  return {
    guid: newGuid(),
    app_guid: appGuid,
    name: message.name,
    command: message.command,
    memory_in_mb: message.memoryInMb ?? null,
    origin: 'user',
    process_types: [...message.processTypes].sort(),
    created_at: at,
    updated_at: at,
  };
}

/**
 * Writes a new sidecar, in the caller's transaction, after checking it against the app's other
 * sidecars and processes (an ApiError when it does not fit). As Cloud Controller, the memory is
 * checked when the request gives some.
 */
export async function writeNewSidecar(trx: Db, sidecar: Sidecar): Promise<void> {
  const problem = problems(sidecar, await sidecarsOfApp(trx, sidecar.app_guid), await listProcessesOfApp(trx, sidecar.app_guid), sidecar.memory_in_mb !== null);
  if (problem) throw unprocessable(problem);
  const { process_types: types, ...row } = sidecar;
  await insertSidecar(trx, row, types);
}

/** `POST /v3/apps/:guid/sidecars`. */
export async function createSidecar(ctx: RequestContext, app: AppRow, message: SidecarCreateMessage): Promise<Sidecar> {
  const sidecar = newSidecar(app.guid, message, now());
  try {
    await ctx.db.transaction().execute((trx) => writeNewSidecar(trx, sidecar));
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken(message.name);
    throw error;
  }
  return sidecar;
}

/** The sidecar with what the message gives changed. */
export function updatedSidecar(sidecar: Sidecar, message: SidecarFields, at: string): Sidecar {
  return {
    ...sidecar,
    name: message.name ?? sidecar.name,
    command: message.command ?? sidecar.command,
    memory_in_mb: message.memoryInMb === undefined ? sidecar.memory_in_mb : message.memoryInMb,
    process_types: message.processTypes ? [...message.processTypes].sort() : sidecar.process_types,
    updated_at: at,
  };
}

/** `PATCH /v3/sidecars/:guid`: what the message gives. */
export async function updateSidecarAction(ctx: Pick<RequestContext, 'db'>, sidecar: Sidecar, message: SidecarFields): Promise<Sidecar> {
  const updated = updatedSidecar(sidecar, message, now());
  try {
    await ctx.db.transaction().execute(async (trx) => writeSidecarUpdate(trx, updated, message));
  } catch (error) {
    if (isUniqueViolation(error)) throw nameTaken(updated.name);
    throw error;
  }
  return updated;
}

/**
 * Writes a sidecar's new settings, in the caller's transaction, after checking them against the
 * app's other sidecars and processes (an ApiError when they do not fit). `given`: what was asked
 * for (the memory is checked, as Cloud Controller does, when the memory or the types are).
 */
export async function writeSidecarUpdate(trx: Db, updated: Sidecar, given: SidecarFields): Promise<void> {
  const others = (await sidecarsOfApp(trx, updated.app_guid)).filter((s) => s.guid !== updated.guid);
  const problem = problems(updated, others, await listProcessesOfApp(trx, updated.app_guid), given.memoryInMb !== undefined || given.processTypes !== undefined);
  if (problem) throw unprocessable(problem);
  await updateSidecar(trx, updated.guid, { name: updated.name, command: updated.command, memory_in_mb: updated.memory_in_mb, updated_at: updated.updated_at });
  if (given.processTypes) await setSidecarProcessTypes(trx, updated, updated.process_types);
}

/** `DELETE /v3/sidecars/:guid`. */
export async function deleteSidecarAction(ctx: Pick<RequestContext, 'db'>, sidecar: Sidecar): Promise<void> {
  await ctx.db.transaction().execute((trx) => deleteSidecar(trx, sidecar.guid));
}

/** What a start message carries for an instance of the app's process of `processType`: its sidecars, or undefined when it has none. */
export async function startSidecars(db: Db, appGuid: string, processType: string): Promise<SidecarStart[] | undefined> {
  const rows = await sidecarsOfProcessType(db, appGuid, processType);
  if (rows.length === 0) return undefined;
  return rows.map((s) => ({ name: s.name, command: s.command, ...(s.memory_in_mb !== null ? { memory_in_mb: s.memory_in_mb } : {}) }));
}

/**
 * Cloud Controller's check of a process's new memory (its ProcessModel validation): it must stay
 * above what the process's sidecars reserve. For a scale of these processes of the app.
 */
export async function processMemoryProblem(db: Db, appGuid: string, processes: Pick<ProcessRow, 'type' | 'memory_in_mb'>[]): Promise<string | undefined> {
  if (memoryProblem(processes, await sidecarsOfApp(db, appGuid)) === undefined) return undefined;
  return 'The requested memory allocation is not large enough to run all of your sidecar processes';
}
