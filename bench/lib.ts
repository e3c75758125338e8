// What every benchmark returns: devbox's figure, the reference measured in the same run, and the
// ratio, so `npm run bench` can print one table and write one JSON file.
export interface BenchRow {
  /** What was measured, e.g. "bus pub→sub 16 B". */
  name: string;
  unit: string;
  devbox: number;
  /** The reference in the same run (nats-server, nginx, the direct path), when there is one. */
  reference?: number;
  referenceName?: string;
  /** devbox / reference, oriented so that > 1 means devbox is better when `higherIsBetter`. */
  higherIsBetter: boolean;
}

export function ratio(row: BenchRow): number | undefined {
  if (row.reference === undefined || row.reference === 0 || row.devbox === 0) return undefined;
  return row.higherIsBetter ? row.devbox / row.reference : row.reference / row.devbox;
}

const fmt = (n: number | undefined) =>
  n === undefined ? '-' : Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2);

/** Prints rows as an aligned table. The ratio column is "devbox as a fraction of the reference". */
export function printTable(rows: BenchRow[], out: (line: string) => void = console.log): void {
  const table = [
    ['benchmark', 'devbox', 'reference', 'ref', 'ratio', 'unit'],
    ...rows.map((r) => [r.name, fmt(r.devbox), fmt(r.reference), r.referenceName ?? '', fmt(ratio(r)), r.unit]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  for (const row of table) out(row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
}
