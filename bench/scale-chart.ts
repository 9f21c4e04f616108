// The chart bench:scale writes: login rate against the number of users (log scale), each rate as
// a fraction of its own rate at the smallest size — the 0.9 target drawn across — with the
// absolute rate written at each point (the smallest size's in the legend). A small hand-drawn SVG: no chart library is installed.

export interface ScalePoint {
  readonly store: string;
  readonly users: number;
  readonly password_token_logins_per_s: number;
  readonly challenge_logins_per_s: number;
}

const W = 760;
const H = 360;
const PLOT = { left: 60, right: 520, top: 30, bottom: 300 };
const COLOURS: Record<string, string> = {
  'sqlite password+token': '#1f77b4',
  'sqlite challenge': '#aec7e8',
  'postgres password+token': '#d62728',
  'postgres challenge': '#ff9896',
};

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function scaleChart(points: readonly ScalePoint[]): string {
  const sizes = [...new Set(points.map((p) => p.users))].sort((a, b) => a - b);
  const lo = Math.log10(sizes[0] ?? 1);
  const hi = Math.max(lo + 1, Math.log10(sizes.at(-1) ?? 10));
  const x = (users: number) => PLOT.left + ((Math.log10(users) - lo) / (hi - lo)) * (PLOT.right - PLOT.left);
  const ratios = ['sqlite', 'postgres'].flatMap((store) => {
    const series = points.filter((p) => p.store === store).sort((a, b) => a.users - b.users);
    return series.flatMap((p) => [p.password_token_logins_per_s / (series[0]?.password_token_logins_per_s || 1), p.challenge_logins_per_s / (series[0]?.challenge_logins_per_s || 1)]);
  });
  const yMax = Math.max(1.25, Math.ceil(Math.max(...ratios, 0) * 4) / 4);
  const y = (ratio: number) => PLOT.bottom - (Math.min(ratio, yMax) / yMax) * (PLOT.bottom - PLOT.top);
  const parts: string[] = [];
  for (let tick = 0; tick <= yMax + 1e-9; tick += 0.25) {
    parts.push(`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y(tick)}" y2="${y(tick)}" stroke="#ddd"/>`);
    parts.push(`<text x="${PLOT.left - 6}" y="${y(tick) + 4}" text-anchor="end">${tick.toFixed(2)}</text>`);
  }
  parts.push(`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y(0.9)}" y2="${y(0.9)}" stroke="#555" stroke-dasharray="6 4"/>`);
  parts.push(`<text x="${PLOT.right - 4}" y="${y(0.9) + 14}" text-anchor="end">target 0.9</text>`);
  for (const size of sizes) parts.push(`<text x="${x(size)}" y="${PLOT.bottom + 18}" text-anchor="middle">${size.toLocaleString('en')}</text>`);
  parts.push(`<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 40}" text-anchor="middle">users (and ten audit rows each)</text>`);
  parts.push(`<text transform="translate(16 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">logins/s ÷ logins/s at ${(sizes[0] ?? 0).toLocaleString('en')} users</text>`);
  let legend = 0;
  for (const store of [...new Set(points.map((p) => p.store))]) {
    for (const [kind, field] of [['password+token', 'password_token_logins_per_s'], ['challenge', 'challenge_logins_per_s']] as const) {
      const series = points.filter((p) => p.store === store).sort((a, b) => a.users - b.users);
      const base = series[0]?.[field];
      if (!base) continue;
      const name = `${store} ${kind}`;
      const colour = COLOURS[name] ?? '#000';
      const coords = series.map((p) => [x(p.users), y(p[field] / base), p[field]] as const);
      parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${coords.map(([cx, cy]) => `${cx.toFixed(1)},${cy.toFixed(1)}`).join(' ')}"/>`);
      for (const [i, [cx, cy, rate]] of coords.entries()) {
        parts.push(`<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="3.5" fill="${colour}"><title>${escape(name)}: ${Math.round(rate)}/s</title></circle>`);
        // The first points all sit at 1.0: their rates go in the legend instead.
        if (i > 0) parts.push(`<text x="${(cx + 5).toFixed(1)}" y="${(cy - 6).toFixed(1)}" font-size="10" fill="${colour}">${Math.round(rate)}</text>`);
      }
      const ly = PLOT.top + 10 + legend++ * 20;
      parts.push(`<line x1="${PLOT.right + 14}" x2="${PLOT.right + 34}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="3"/>`);
      parts.push(`<text x="${PLOT.right + 40}" y="${ly + 4}">${escape(name)} (${Math.round(base)}/s)</text>`);
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12" role="img" aria-labelledby="t">
<title id="t">Verifier login rates as the store grows (bench:scale), each relative to its rate at the smallest size; the figure at each point is logins per second</title>
<rect width="${W}" height="${H}" fill="#fff"/>
${parts.join('\n')}
</svg>
`;
}
