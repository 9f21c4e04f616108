// The console's audit log: filters (user, result, reason, client address, time range), newest
// first, paged by id (the "older" link carries the last id shown, so new entries never shift a
// page), and above it the chart of logins and failures over the filter's time range (the last
// 24 hours unless given), drawn by the server.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditResult } from '../store/audit.js';
import type { Verifier } from '../verifier.js';
import { loginChart } from './chart.js';
import { queryText } from './forms.js';
import { page } from './routing.js';

export const AUDIT_PAGE_SIZE = 50;
const RESULTS: readonly AuditResult[] = ['success', 'failure', 'refused'];
const BUCKETS = 24;

/** `YYYY-MM-DDTHH:MM` (a datetime-local field), read as UTC; undefined when empty or not a time. */
function utcTime(value: string | undefined): number | undefined {
  if (!value || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return undefined;
  const ms = Date.parse(`${value}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

export function auditFilters(request: FastifyRequest) {
  const text = (name: string) => queryText(request, name)?.trim() || undefined;
  const result = text('result');
  const before = Number(text('before'));
  return {
    user: text('user'),
    result: RESULTS.includes(result as AuditResult) ? (result as AuditResult) : undefined,
    reason: text('reason'),
    address: text('address'),
    from: text('from'),
    to: text('to'),
    before: Number.isInteger(before) && before > 0 ? before : undefined,
  };
}

export function consoleAuditRoutes(web: FastifyInstance, verifier: Verifier): void {
  page(web, '/console/audit', {
    template: 'console/audit',
    guard: 'audit.read',
    load: async (request) => {
      const filters = auditFilters(request);
      const since = utcTime(filters.from);
      const until = utcTime(filters.to);
      const entries = await verifier.audit({
        subject: filters.user?.toLowerCase(),
        result: filters.result,
        reason: filters.reason,
        clientIp: filters.address,
        since,
        until,
        before: filters.before,
        newestFirst: true,
        limit: AUDIT_PAGE_SIZE + 1,
      });
      const end = until ?? Math.ceil(verifier.now() / 3_600_000) * 3_600_000;
      const start = since !== undefined && since < end ? since : end - 24 * 3_600_000;
      const bucketMs = Math.max(60_000, Math.ceil((end - start) / BUCKETS / 60_000) * 60_000);
      const chart = loginChart(await verifier.loginTimeline({ since: start, until: end, bucketMs }), bucketMs);
      const shown = entries.slice(0, AUDIT_PAGE_SIZE);
      const older = entries.length > AUDIT_PAGE_SIZE ? shown.at(-1)?.id : undefined;
      const keep = new URLSearchParams(Object.entries({ ...filters, before: undefined }).flatMap(([k, v]): Array<[string, string]> => (v === undefined ? [] : [[k, String(v)]])));
      const olderLink = older === undefined ? undefined : `/console/audit?${new URLSearchParams([...keep, ['before', String(older)]])}`;
      return { title: 'Audit log', filters, results: RESULTS, entries: shown, olderLink, newestLink: filters.before ? `/console/audit?${keep}` : undefined, chart };
    },
  });
}
