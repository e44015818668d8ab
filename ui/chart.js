// @ts-check
// Hand-written SVG charts: bars for durations and outcomes, a line with points for a metric over runs.
// Each mark carries a <title> (hover, screen readers) and links to its run.
import { duration, s } from './lib.js';

const W = 640, H = 200, L = 56, R = 12, T = 12, B = 28;

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v) {
  if (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0)) return v.toExponential(1);
  return String(Math.round(v * 1000) / 1000);
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

/** A metric over runs: one point per run, in creation order. `points`: [{run_id, created_at, value}]. */
export function metricChart(name, points) {
  const vals = points.map((p) => p.value);
  let lo = Math.min(...vals), hi = Math.max(...vals);
  if (lo === hi) (lo -= Math.abs(lo) * 0.1 || 1), (hi += Math.abs(hi) * 0.1 || 1);
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  const y = (v) => H - B - ((v - lo) / (hi - lo)) * (H - B - T);
  const x = (i) => (points.length === 1 ? (L + W - R) / 2 : L + 10 + (i / (points.length - 1)) * (W - L - R - 20));
  const svg = frame(`${name} over ${points.length} runs`, [0, 0.5, 1].map((f) => [y(lo + f * (hi - lo)), fmt(lo + f * (hi - lo))]));
  svg.dataset.metric = name;
  if (points.length > 1) svg.append(s('polyline', { class: 'line', points: points.map((p, i) => `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ') }));
  points.forEach((p, i) => {
    svg.append(s('a', { href: `/runs/${p.run_id}` }, s('circle', { class: 'point', cx: x(i).toFixed(1), cy: y(p.value).toFixed(1), r: 4, 'data-value': p.value }, s('title', {}, `${name} = ${p.value} · run ${p.run_id} · ${p.created_at}`))));
  });
  return svg;
}
