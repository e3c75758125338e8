// The `included` part of a v3 answer: related resources rendered whole (`include=`) or cut down
// to the keys a client asked for (`fields[resource]=`). A key `relationships.x` keeps only that
// relationship.

/** The resource with only `keys` (`guid`, `name`, `relationships.service_offering`, …). */
export function pickFields(resource: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const key of keys) {
    const [head, rest] = key.split('.', 2) as [string, string | undefined];
    if (rest === undefined) {
      if (head in resource) picked[head] = resource[head];
      continue;
    }
    const parent = resource[head] as Record<string, unknown> | undefined;
    if (!parent || !(rest in parent)) continue;
    picked[head] = { ...(picked[head] as Record<string, unknown> | undefined), [rest]: parent[rest] };
  }
  return picked;
}

/** Renders each row whole, or with only the keys asked for when `keys` is given. */
export const renderIncluded = <R>(rows: R[], present: (row: R) => Record<string, unknown>, keys?: readonly string[]) =>
  rows.map((row) => (keys ? pickFields(present(row), keys) : present(row)));
