// `tokengate verifier audit`: what a person looking at the log wants — the newest entries first
// (`--limit N`, default 100), optionally between two times. Bad values are usage errors (exit 2).
import type { AuditQuery } from '../../../verifier/index.js';
import { UsageError } from '../../exit-codes.js';
import { jsonOption } from '../../commands/options.js';
import { printListing } from '../../table.js';
import { defineVerifierCommand, withVerifier } from '../command.js';
import { limitOption } from '../paging.js';

interface AuditOptions {
  subject?: string | undefined;
  action?: string | undefined;
  limit?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  json?: boolean | undefined;
}

// ISO 8601 dates and times only: Date.parse alone takes "3" for March 2001.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

function time(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const at = ISO_TIME.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(at)) throw new UsageError(`--${option}: an ISO 8601 date or time, e.g. 2025-01-31 or 2025-01-31T08:00Z (got ${JSON.stringify(value)})`);
  return at;
}

function auditQueryFrom(values: AuditOptions): AuditQuery {
  const limit = limitOption(values.limit, 100);
  const since = time('since', values.since);
  const until = time('until', values.until);
  if (since !== undefined && until !== undefined && since >= until) throw new UsageError('--since: must be before --until');
  return { subject: values.subject, action: values.action, since, until, limit, newestFirst: true };
}

export function auditCommand() {
  const command = defineVerifierCommand('audit', 'The audit log, the newest N (100) first; ISO 8601 times')
    .option('--subject <USERNAME>', 'entries about this user')
    .option('--action <NAME>', 'entries of this action, e.g. user.freeze')
    .option('--limit <N>', 'the newest N entries (1-1000; 100)')
    .option('--since <TIME>', 'at or after, e.g. 2025-01-31 or 2025-01-31T08:00Z')
    .option('--until <TIME>', 'before');
  return jsonOption(command).action(
    withVerifier<AuditOptions>(async (verifier, _args, options) => {
      const entries = await verifier.audit(auditQueryFrom(options));
      printListing(options.json, entries, entries.map((e) => ({ at: e.at.toISOString(), actor: e.actor, action: e.action, subject: e.subject ?? '', ip: e.clientIp ?? '', result: e.result, reason: e.reason })));
    }),
  );
}
