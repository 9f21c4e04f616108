// ES2024's String.prototype.isWellFormed (no lone surrogates): Node 20 has it, the ES2022 lib we
// compile against does not declare it. A lone surrogate becomes U+FFFD on its way to UTF-8 — a
// secret nobody typed — so secrets are refused unless well-formed.
type Es2024String = string & { isWellFormed(): boolean };

export function isWellFormed(value: string): boolean {
  return (value as Es2024String).isWellFormed();
}
