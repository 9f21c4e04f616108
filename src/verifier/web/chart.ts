// The console's chart of logins over time, laid out on the server: bar geometry for an inline SVG
// (no script, no inline style — colours come from the stylesheet's classes), with a text summary
// for screen readers and a title on every bar.
import type { LoginCounts } from '../store/audit.js';

export interface Bar {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly kind: 'success' | 'failure';
  readonly title: string;
}

export interface Chart {
  readonly width: number;
  readonly height: number;
  readonly plot: { readonly left: number; readonly top: number; readonly bottom: number; readonly right: number };
  readonly bars: Bar[];
  readonly yTicks: Array<{ y: number; label: string }>;
  readonly xLabels: Array<{ x: number; label: string }>;
  readonly summary: string;
}

const WIDTH = 720;
const HEIGHT = 220;
const PLOT = { left: 40, top: 10, right: WIDTH - 10, bottom: HEIGHT - 30 };

function when(ms: number, bucketMs: number): string {
  const iso = new Date(ms).toISOString();
  return bucketMs >= 86_400_000 ? iso.slice(5, 10) : iso.slice(11, 16);
}

/** A round step (1, 2 or 5 times a power of ten, at least 1) that divides 0..max into at most five parts. */
function niceStep(max: number): number {
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  return Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw);
}

/** Bars of successes and failures side by side per bucket, a scale of round numbers, a few time labels. */
export function loginChart(counts: readonly LoginCounts[], bucketMs: number): Chart {
  const max = Math.max(1, ...counts.flatMap((c) => [c.successes, c.failures]));
  const step = niceStep(max);
  const top = Math.ceil(max / step) * step;
  const scale = (n: number) => ((PLOT.bottom - PLOT.top) * n) / top;
  const slot = (PLOT.right - PLOT.left) / Math.max(1, counts.length);
  const barWidth = Math.max(1, slot * 0.4);
  const bars: Bar[] = counts.flatMap((c, i) => {
    const x = PLOT.left + i * slot + slot * 0.1;
    const label = `${new Date(c.start).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    return [
      { x, y: PLOT.bottom - scale(c.successes), width: barWidth, height: scale(c.successes), kind: 'success' as const, title: `${label}: ${c.successes} successful` },
      { x: x + barWidth, y: PLOT.bottom - scale(c.failures), width: barWidth, height: scale(c.failures), kind: 'failure' as const, title: `${label}: ${c.failures} failed` },
    ];
  });
  const yTicks = Array.from({ length: Math.floor(top / step) + 1 }, (_, i) => ({ y: PLOT.bottom - scale(i * step), label: String(i * step) }));
  const every = Math.max(1, Math.ceil(counts.length / 6));
  const xLabels = counts.flatMap((c, i) => (i % every === 0 ? [{ x: PLOT.left + i * slot + slot / 2, label: when(c.start, bucketMs) }] : []));
  const successes = counts.reduce((n, c) => n + c.successes, 0);
  const failures = counts.reduce((n, c) => n + c.failures, 0);
  const busiest = counts.reduce((a, c) => (c.failures > a.failures ? c : a), counts[0] ?? { start: 0, successes: 0, failures: 0 });
  const summary =
    `${successes} successful and ${failures} failed logins in ${counts.length} periods` +
    (busiest.failures > 0 ? `; most failures (${busiest.failures}) at ${new Date(busiest.start).toISOString().slice(0, 16).replace('T', ' ')} UTC.` : '.');
  return { width: WIDTH, height: HEIGHT, plot: PLOT, bars, yTicks, xLabels, summary };
}
