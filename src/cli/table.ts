// What the commands print: listings for people as plain aligned columns under a header, values as
// they are (no quotes, no index column, unlike console.table), "(none)" for an empty list; a
// sentence for one result. `--json` (the data as it is) is for scripts.
export type Row = Record<string, unknown>;

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(cell).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The rows as text: one header line, then one line per row, columns padded to their widest cell. */
export function formatTable(rows: readonly Row[]): string {
  if (rows.length === 0) return '(none)';
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: readonly string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns), ...cells.map(line)].join('\n');
}

function printTable(rows: readonly Row[]): void {
  console.log(formatTable(rows));
}

/** A listing: the data as JSON for scripts, else the rows as columns. */
export function printListing(json: boolean | undefined, data: unknown, rows: readonly Row[]): void {
  if (json) console.log(JSON.stringify(data, null, 2));
  else printTable(rows);
}

/** One result: the data as JSON for scripts, else a sentence. */
export function printResult(json: boolean | undefined, data: unknown, text: string): void {
  console.log(json ? JSON.stringify(data, null, 2) : text);
}
