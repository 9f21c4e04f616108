// `tokengate verifier audit`: what a person looking at the log wants — the newest entries first
// (`--limit N`, default 100), optionally between two times. Bad values are usage errors (exit 2).
import type { AuditQuery } from '../../verifier/store/audit.js';
import { UsageError } from '../exit-codes.js';

// ISO 8601 dates and times only: Date.parse alone takes "3" for March 2001.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

function time(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const at = ISO_TIME.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) throw new UsageError(`--${option}: an ISO 8601 date or time, e.g. 2025-01-31 or 2025-01-31T08:00Z (got ${JSON.stringify(value)})`);
  return at;
}

export function auditQueryFrom(values: { subject?: string | undefined; action?: string | undefined; limit?: string | undefined; since?: string | undefined; until?: string | undefined }): AuditQuery {
  const limit = values.limit === undefined ? 100 : /^\d{1,4}$/.test(values.limit) ? Number(values.limit) : NaN;
  if (!(limit >= 1 && limit <= 1000)) throw new UsageError(`--limit: a whole number from 1 to 1000 (got ${JSON.stringify(values.limit)})`);
  const since = time('since', values.since);
  const until = time('until', values.until);
  if (since !== undefined && until !== undefined && since >= until) throw new UsageError('--since: must be before --until');
  return { subject: values.subject, action: values.action, since, until, limit, newestFirst: true };
}
