// @ts-check
// Hand-written SVG charts: bars for durations and outcomes (a metric over time is in time-chart.js).
// Each mark carries a <title> (hover, screen readers) and links to its run.
import { duration, s } from './lib.js';

const W = 640, H = 200, L = 56, R = 12, T = 12, B = 28;

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function frame(label, yLabels) {
  const parts = [s('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }), s('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B })];
  for (const [y, text] of yLabels) {
    parts.push(s('line', { class: 'grid', x1: L, y1: y, x2: W - R, y2: y }));
    parts.push(s('text', { x: L - 6, y: y + 4, 'text-anchor': 'end' }, text));
  }
  return s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label }, parts);
}

/** One bar per run: height its duration, colour its outcome. `runs`: [{id, state, duration_ms, created_at}]. */
export function durationChart(runs) {
  const max = niceMax(Math.max(0, ...runs.map((r) => r.duration_ms ?? 0)));
  const y = (v) => H - B - (v / max) * (H - B - T);
  const svg = frame(`durations and outcomes of the last ${runs.length} runs`, [0, 0.5, 1].map((f) => [y(f * max), duration(f * max)]));
  const slot = (W - L - R) / Math.max(1, runs.length);
  runs.forEach((r, i) => {
    const d = r.duration_ms ?? 0;
    const top = y(d);
    const a = s('a', { href: `/runs/${r.id}` }, s('rect', { class: `bar ${r.state}`, x: L + i * slot + slot * 0.15, y: Math.min(top, H - B - 2), width: Math.max(1, slot * 0.7), height: Math.max(2, H - B - top) }, s('title', {}, `${r.created_at} · ${r.state} · ${duration(r.duration_ms)}`)));
    svg.append(a);
  });
  svg.append(s('text', { x: L, y: H - 8 }, 'older'), s('text', { x: W - R, y: H - 8, 'text-anchor': 'end' }, 'newer'));
  return svg;
}
