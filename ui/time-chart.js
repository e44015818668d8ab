// A metric over time, hand-written SVG: one line per series, one point per run at its logical time, on a real
// time axis (dated ticks chosen for the range, in the viewer's zone), with the job's notify thresholds as
// horizontal dashed lines. Each point is a link to its run with a <title> (hover, screen readers).
import { s, when } from './lib.js';

const W = 640, H = 220, L = 56, R = 64, T = 12, B = 34;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SEC = 1000, MIN = 60 * SEC, HOUR = 60 * MIN, DAY = 24 * HOUR;

/**
 * Tick steps from a second to centuries: [unit, count]. Units of a day and more are counted on the calendar
 * (a month is a month, not 30 days), so ticks fall on midnights and firsts of the month in the viewer's zone.
 * @type {[('ms'|'day'|'month'|'year'), number][]}
 */
const STEPS = [
  ['ms', SEC], ['ms', 5 * SEC], ['ms', 15 * SEC], ['ms', 30 * SEC],
  ['ms', MIN], ['ms', 5 * MIN], ['ms', 15 * MIN], ['ms', 30 * MIN],
  ['ms', HOUR], ['ms', 3 * HOUR], ['ms', 6 * HOUR], ['ms', 12 * HOUR],
  ['day', 1], ['day', 2], ['day', 7], ['day', 14],
  ['month', 1], ['month', 3], ['month', 6],
  ['year', 1], ['year', 2], ['year', 5], ['year', 10], ['year', 25], ['year', 50], ['year', 100],
];
/** @param {[string, number]} step */
const approxMs = ([unit, n]) => (unit === 'ms' ? n : unit === 'day' ? n * DAY : unit === 'month' ? n * 30.44 * DAY : n * 365.25 * DAY);

const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');

/**
 * Dated ticks for the range [from, to] (epoch ms): at most `max` of them, on round local times.
 * @param {number} from
 * @param {number} to
 * @param {number} [max]
 * @returns {{t: number, label: string}[]}
 */
export function timeTicks(from, to, max = 6) {
  const span = Math.max(1, to - from);
  const step = STEPS.find((st) => span / approxMs(st) <= max) ?? /** @type {[('year'), number]} */ (['year', Math.ceil(span / approxMs(['year', 1]) / max)]);
  const [unit, n] = step;
  /** @type {number[]} */
  const ts = [];
  if (unit === 'ms') {
    // From the local midnight before `from`, so "every 3 hours" means 00:00, 03:00, … on the viewer's clock.
    const d = new Date(from);
    d.setHours(0, 0, 0, 0);
    let t = d.getTime() + Math.ceil((from - d.getTime()) / n) * n;
    for (; t <= to; t += n) ts.push(t);
  } else if (unit === 'day') {
    const d = new Date(from);
    d.setHours(0, 0, 0, 0);
    if (n === 7 || n === 14) d.setDate(d.getDate() - ((d.getDay() + 6) % 7)); // weeks start on Mondays
    while (d.getTime() < from) d.setDate(d.getDate() + (n === 2 ? 1 : n));
    for (; d.getTime() <= to; d.setDate(d.getDate() + n)) ts.push(d.getTime());
  } else if (unit === 'month') {
    const d = new Date(from);
    d.setHours(0, 0, 0, 0);
    d.setDate(1);
    while (d.getTime() < from || d.getMonth() % n !== 0) d.setMonth(d.getMonth() + 1);
    for (; d.getTime() <= to; d.setMonth(d.getMonth() + n)) ts.push(d.getTime());
  } else {
    const d = new Date(from);
    d.setHours(0, 0, 0, 0);
    d.setMonth(0, 1);
    while (d.getTime() < from || d.getFullYear() % n !== 0) d.setFullYear(d.getFullYear() + 1);
    for (; d.getTime() <= to; d.setFullYear(d.getFullYear() + n)) ts.push(d.getTime());
  }
  const spansYears = new Date(from).getFullYear() !== new Date(to).getFullYear() || new Date(to).getFullYear() !== new Date().getFullYear();
  return ts.map((t, i) => {
    const d = new Date(t);
    const prev = i > 0 ? new Date(/** @type {number} */ (ts[i - 1])) : null;
    const day = `${MONTHS[d.getMonth()]} ${d.getDate()}`;
    let label;
    if (unit === 'ms') {
      const clock = n < MIN ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
      // The date on the first tick and wherever the day changes.
      label = !prev || prev.getDate() !== d.getDate() ? `${day} ${clock}` : clock;
    } else if (unit === 'day') label = spansYears && (!prev || prev.getFullYear() !== d.getFullYear()) ? `${day}, ${d.getFullYear()}` : day;
    else if (unit === 'month') label = !prev || d.getMonth() === 0 ? `${MONTHS[d.getMonth()]} ${d.getFullYear()}` : `${MONTHS[d.getMonth()]}`;
    else label = String(d.getFullYear());
    return { t, label };
  });
}

/** @param {number} v */
function fmt(v) {
  if (Math.abs(v) >= 100000 || (Math.abs(v) < 0.001 && Math.abs(v) > 1e-12)) return v.toExponential(1);
  return String(Math.round(v * 1e6) / 1e6);
}

/**
 * @typedef {{run_id: string, at: number, value: number, trigger: string, state: string|null, params: Record<string, unknown>}} TimePoint
 * @typedef {{key: string, label: string, color: number, points: TimePoint[]}} TimeSeries
 * @typedef {{metric: string, rule: string, above: number|null, below: number|null}} Threshold
 */

/**
 * A metric's series over the time range [from, to] (epoch ms).
 * @param {string} name
 * @param {TimeSeries[]} series
 * @param {{from: number, to: number, thresholds: Threshold[]}} opts
 */
export function metricChart(name, series, { from, to, thresholds }) {
  if (!(to > from)) (from -= HOUR), (to += HOUR);
  const lines = thresholds.flatMap((th) => [
    ...(th.above !== null ? [{ value: th.above, kind: 'above', rule: th.rule }] : []),
    ...(th.below !== null ? [{ value: th.below, kind: 'below', rule: th.rule }] : []),
  ]);
  const all = series.flatMap((x) => x.points);
  const vals = [...all.map((p) => p.value), ...lines.map((l) => l.value)];
  let lo = vals.length ? Math.min(...vals) : 0, hi = vals.length ? Math.max(...vals) : 1;
  if (lo === hi) (lo -= Math.abs(lo) * 0.1 || 1), (hi += Math.abs(hi) * 0.1 || 1);
  // Round values on the value axis: 4 to 6 steps of 1, 2 or 5 × a power of ten, around the data.
  const raw = (hi - lo) / 4;
  const p10 = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * p10 >= raw) ?? 10) * p10;
  lo = Math.floor(lo / step - 0.25) * step;
  hi = Math.ceil(hi / step + 0.25) * step;
  const y = (/** @type {number} */ v) => H - B - ((v - lo) / (hi - lo)) * (H - B - T);
  const x = (/** @type {number} */ t) => L + ((t - from) / (to - from)) * (W - L - R);
  const svg = s('svg', { class: 'chart timechart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${name} over ${all.length} runs, ${when(new Date(from).toISOString())} to ${when(new Date(to).toISOString())}` });
  svg.dataset.metric = name;
  svg.append(s('line', { class: 'axis', x1: L, y1: H - B, x2: W - R, y2: H - B }), s('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
  for (let i = 0; lo + i * step <= hi + step / 1e6; i++) {
    const v = lo + i * step;
    svg.append(s('line', { class: 'grid', x1: L, y1: y(v), x2: W - R, y2: y(v) }), s('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmt(v)));
  }
  for (const tick of timeTicks(from, to)) {
    const tx = x(tick.t);
    svg.append(
      s('line', { class: 'grid', x1: tx, y1: T, x2: tx, y2: H - B }),
      s('line', { class: 'axis', x1: tx, y1: H - B, x2: tx, y2: H - B + 4 }),
      s('text', { class: 'xtick', x: tx, y: H - B + 16, 'text-anchor': 'middle', 'data-t': new Date(tick.t).toISOString() }, tick.label),
    );
  }
  for (const l of lines) {
    const ly = y(l.value).toFixed(1);
    svg.append(
      s('line', { class: `threshold ${l.kind}`, x1: L, y1: ly, x2: W - R, y2: ly, 'data-threshold': l.value, 'data-kind': l.kind }, s('title', {}, `${l.rule}: notify when ${name} is ${l.kind} ${l.value}`)),
      s('text', { class: 'threshold-label', x: W - R + 4, y: Number(ly) + 4 }, `${l.kind} ${fmt(l.value)}`),
    );
  }
  const r = all.length > 300 ? 2 : all.length > 80 ? 3 : 4;
  for (const se of series) {
    const pts = [...se.points].sort((a, b) => a.at - b.at);
    if (pts.length > 1) svg.append(s('polyline', { class: `line c${se.color}`, 'data-series': se.key, points: pts.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ') }));
    for (const p of pts) {
      const params = Object.entries(p.params ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
      svg.append(
        s('a', { href: `/runs/${p.run_id}` },
          s('circle', { class: `point c${se.color}`, cx: x(p.at).toFixed(1), cy: y(p.value).toFixed(1), r, 'data-value': p.value, 'data-series': se.key, 'data-trigger': p.trigger, 'data-at': new Date(p.at).toISOString() },
            s('title', {}, `${name} = ${p.value} · ${when(new Date(p.at).toISOString())} · ${p.trigger}${params ? ` · ${params}` : ''} · run ${p.run_id}`))),
      );
    }
  }
  return svg;
}
