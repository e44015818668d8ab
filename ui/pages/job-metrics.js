// The job page's metrics: each metric the job reports over logical time, with a range (7/30/90 days, all, or
// from–to dates), series split by trigger or by a parameter's value, filters by trigger and by parameter
// values, and the job's notify thresholds. The choices live in the page's URL (shareable, kept on reload).
import { api, fill, h, memo, qs, when } from '../lib.js';
import { metricChart } from '../time-chart.js';

const DAY = 24 * 3600 * 1000;
/** @type {[string, string, number | null][]} */
const RANGES = [['7d', '7 days', 7], ['30d', '30 days', 30], ['90d', '90 days', 90], ['all', 'All', null]];
/** Fixed colours per trigger, the same on every chart. */
const TRIGGERS = ['schedule', 'backfill', 'manual', 'rerun'];
const MAX_RUNS = 1000;

/** A local date (YYYY-MM-DD from a date input) as epoch ms at the start (or end) of that day in the viewer's zone. */
function localDay(/** @type {string} */ text, /** @type {boolean} */ end) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (end) d.setHours(23, 59, 59, 999);
  return d.getTime();
}

/** A parameter value as a stable key (and option value). */
const pkey = (/** @type {unknown} */ v) => (v === undefined ? '' : JSON.stringify(v));
/** A key as a reader sees it: a string without its quotes. */
function shown(/** @type {string} */ key) {
  const v = JSON.parse(key);
  return typeof v === 'string' ? v : key;
}

/**
 * @param {string} base the job's API path, /jobs/PROJECT/JOB
 * @param {URLSearchParams} query the page's query (the initial choices)
 * @param {AbortSignal} signal the page's: aborted when the user leaves it
 */
export function metricsPanel(base, query, signal) {
  const state = {
    range: query.get('range') ?? 'all',
    from: query.get('from') ?? '',
    to: query.get('to') ?? '',
    split: query.get('split') ?? 'trigger',
    triggers: new Set((query.get('trigger') ?? TRIGGERS.join(',')).split(',').filter((t) => TRIGGERS.includes(t))),
    /** @type {Map<string, string>} parameter name → the chosen value's key */
    params: new Map([...query.entries()].filter(([k]) => k.startsWith('p.')).map(([k, v]) => [k.slice(2), v])),
  };
  if (!['7d', '30d', '90d', 'all', 'custom'].includes(state.range)) state.range = 'all';

  const rangeBtns = RANGES.map(([key, label]) => h('button', { type: 'button', 'data-range': key }, label));
  const fromIn = h('input', { type: 'date', 'data-control': 'from', value: state.from });
  const toIn = h('input', { type: 'date', 'data-control': 'to', value: state.to });
  const splitSel = h('select', { 'data-control': 'split' });
  const trigBoxes = TRIGGERS.map((t) => h('label', { class: 'check' }, h('input', { type: 'checkbox', 'data-trigger-filter': t, checked: state.triggers.has(t) }), h('span', { class: `swatch c${TRIGGERS.indexOf(t)}` }), t));
  const paramBox = h('span', { class: 'param-filters' });
  const info = h('p', { class: 'muted', 'data-field': 'metrics-window' });
  const charts = h('div');
  const controls = h('div', { class: 'filters metric-controls', role: 'group', 'aria-label': 'Metric charts' },
    h('fieldset', {}, h('legend', {}, 'Logical time'), h('span', { class: 'seg' }, rangeBtns), h('label', {}, 'from', fromIn), h('label', {}, 'to', toIn)),
    h('label', {}, 'Split by', splitSel),
    h('fieldset', {}, h('legend', {}, 'Triggers'), trigBoxes),
    paramBox,
  );
  const el = h('div', {}, controls, info, charts);

  /** @type {any} */
  let answer = null;
  let seq = 0;
  const drawOnce = memo();
  const splitOnce = memo();
  const paramsOnce = memo();

  const syncControls = () => {
    for (const b of rangeBtns) b.setAttribute('aria-pressed', String(b.dataset.range === state.range));
    const u = new URLSearchParams(location.search);
    for (const k of [...u.keys()]) if (['range', 'from', 'to', 'split', 'trigger'].includes(k) || k.startsWith('p.')) u.delete(k);
    if (state.range !== 'all') u.set('range', state.range);
    if (state.range === 'custom') (state.from && u.set('from', state.from), state.to && u.set('to', state.to));
    if (state.split !== 'trigger') u.set('split', state.split);
    if (state.triggers.size !== TRIGGERS.length) u.set('trigger', [...state.triggers].join(','));
    for (const [k, v] of state.params) u.set(`p.${k}`, v);
    const search = u.toString();
    if (search !== location.search.slice(1)) history.replaceState(null, '', location.pathname + (search ? `?${search}` : ''));
  };

  /** The logical-time range asked of the API: [from, to] epoch ms, either end open (null). */
  const range = () => {
    const days = RANGES.find(([k]) => k === state.range)?.[2];
    if (days) return { from: Date.now() - days * DAY, to: Date.now() };
    if (state.range === 'custom') return { from: localDay(state.from, false), to: localDay(state.to, true) };
    return { from: null, to: null };
  };

  const refresh = async (/** @type {AbortSignal} */ signal) => {
    const mine = ++seq;
    const { from, to } = range();
    const trig = state.triggers.size === TRIGGERS.length ? undefined : [...state.triggers].join(',');
    const a = state.triggers.size === 0
      ? { series: [], thresholds: answer?.thresholds ?? [], window: { runs: 0, limit: MAX_RUNS, truncated: false } }
      : await api(`${base}/metrics${qs({ runs: MAX_RUNS, from: from === null ? undefined : new Date(from).toISOString(), to: to === null ? undefined : new Date(to).toISOString(), trigger: trig })}`, { signal });
    if (mine !== seq) return; // a newer choice was made meanwhile
    answer = a;
    draw();
  };

  /** Parameter names with more than one value among the loaded runs: the ones worth splitting or filtering by. */
  const varying = () => {
    /** @type {Map<string, Map<string, unknown>>} */
    const seen = new Map();
    for (const se of answer?.series ?? []) for (const p of se.points) for (const [k, v] of Object.entries(p.params ?? {})) {
      const m = seen.get(k) ?? new Map();
      m.set(pkey(v), v);
      seen.set(k, m);
    }
    return [...seen.entries()].filter(([k, m]) => m.size > 1 || state.params.has(k)).sort(([a], [b]) => a.localeCompare(b));
  };

  const draw = () => {
    if (!answer) return;
    syncControls();
    const vary = varying();
    // Controls are rebuilt only when their options change, so a focused select keeps its focus while polling.
    splitOnce([vary.map(([k]) => k), state.split], () => {
      fill(splitSel, h('option', { value: 'trigger' }, 'trigger'), h('option', { value: 'none' }, 'nothing (one series)'), vary.map(([k]) => h('option', { value: `param:${k}` }, `parameter ${k}`)));
      splitSel.value = state.split;
      if (splitSel.value !== state.split) splitSel.value = state.split = 'trigger';
    });
    paramsOnce(vary.map(([k, m]) => [k, [...m.keys()]]), () => {
      fill(paramBox, vary.map(([k, m]) => {
        const sel = h('select', { 'data-param-filter': k }, h('option', { value: '' }, 'any'), [...m.keys()].sort().map((key) => h('option', { value: key }, String(m.get(key)))));
        const chosen = state.params.get(k);
        if (chosen !== undefined && !m.has(chosen)) sel.append(h('option', { value: chosen }, chosen));
        sel.value = chosen ?? '';
        return h('label', {}, `parameter ${k}`, sel);
      }));
    });
    const { from, to } = range();
    drawOnce([answer.series, answer.thresholds, [...state.params], state.split, state.range, state.from, state.to], () => drawCharts(from, to));
  };

  const drawCharts = (/** @type {number|null} */ from, /** @type {number|null} */ to) => {
    const keep = (/** @type {any} */ p) => [...state.params].every(([k, v]) => pkey(p.params?.[k]) === v);
    const at = (/** @type {any} */ p) => Date.parse(p.scheduled_for ?? p.created_at);
    const metrics = answer.series.map((/** @type {any} */ se) => ({ name: se.name, points: se.points.filter(keep).map((/** @type {any} */ p) => ({ ...p, at: at(p) })) }));
    const all = metrics.flatMap((/** @type {any} */ m) => m.points.map((/** @type {any} */ p) => p.at));
    let lo = from ?? (all.length ? Math.min(...all) : Date.now() - DAY);
    let hi = to ?? (all.length ? Math.max(...all) : Date.now());
    if (from === null || to === null) {
      const margin = Math.max((hi - lo) * 0.03, 60_000);
      if (from === null) lo -= margin;
      if (to === null) hi += margin;
    }
    const w = answer.window;
    const span = all.length ? ` from ${when(new Date(Math.min(...all)).toISOString())} to ${when(new Date(Math.max(...all)).toISOString())}` : '';
    info.textContent = `${w.runs} run${w.runs === 1 ? '' : 's'}${span}, each placed at its logical time (the tick it ran for; its creation for an ad-hoc run)` +
      (w.truncated ? `; the newest ${w.limit} by logical time are shown, narrow the range to see older ones` : '');
    if (answer.series.length === 0) {
      fill(charts, h('p', { class: 'muted' }, w.runs === 0 && (from !== null || state.triggers.size < TRIGGERS.length)
        ? 'No runs with metrics match this range and these triggers.'
        : 'No metrics reported yet. A run reports one by appending {"name": …, "value": …} lines to $KAIROS_OUTPUT.'));
      return;
    }
    fill(charts, h('div', { class: 'metrics-grid' }, metrics.map((/** @type {any} */ m) => {
      const series = splitSeries(m.points, state.split);
      const thresholds = answer.thresholds.filter((/** @type {any} */ t) => t.metric === m.name);
      return h('div', { class: 'metric' },
        h('h3', {}, m.name),
        metricChart(m.name, series, { from: lo, to: hi, thresholds }),
        h('ul', { class: 'legend', 'aria-label': `${m.name} series` },
          series.map((se) => h('li', { 'data-series': se.key }, h('span', { class: `swatch c${se.color}` }), `${se.label} (${se.points.length})`)),
          thresholds.flatMap((/** @type {any} */ t) => [['above', t.above], ['below', t.below]].filter(([, v]) => v !== null).map(([kind, v]) =>
            h('li', { class: 'threshold-key', title: t.rule }, h('span', { class: `swatch threshold ${kind}` }), `notify ${kind} ${v}`)))),
      );
    })));
  };

  // A choice redraws at once; a failed request shows in the header's live indicator on the next poll.
  const again = () => void refresh(signal).catch(() => {});
  for (const b of rangeBtns) b.addEventListener('click', () => {
    state.range = b.dataset.range ?? 'all';
    fromIn.value = toIn.value = state.from = state.to = '';
    again();
  });
  const onDates = () => {
    state.from = fromIn.value;
    state.to = toIn.value;
    state.range = state.from || state.to ? 'custom' : 'all';
    again();
  };
  fromIn.addEventListener('change', onDates);
  toIn.addEventListener('change', onDates);
  splitSel.addEventListener('change', () => {
    state.split = splitSel.value;
    draw();
  });
  controls.addEventListener('change', (e) => {
    const t = e.target;
    if (!(t instanceof HTMLElement)) return;
    if (t.dataset.triggerFilter && t instanceof HTMLInputElement) {
      if (t.checked) state.triggers.add(t.dataset.triggerFilter);
      else state.triggers.delete(t.dataset.triggerFilter);
      again();
    } else if (t.dataset.paramFilter && t instanceof HTMLSelectElement) {
      if (t.value) state.params.set(t.dataset.paramFilter, t.value);
      else state.params.delete(t.dataset.paramFilter);
      draw();
    }
  });

  return { el, refresh };
}

/**
 * Points grouped into series by trigger, by a parameter's value, or not at all.
 * @param {any[]} points
 * @param {string} split
 * @returns {import('../time-chart.js').TimeSeries[]}
 */
function splitSeries(points, split) {
  if (split === 'none') return [{ key: 'all', label: 'all runs', color: 0, points }];
  /** @type {Map<string, any[]>} */
  const groups = new Map();
  const param = split.startsWith('param:') ? split.slice(6) : null;
  for (const p of points) {
    const key = param === null ? p.trigger : pkey(p.params?.[param]);
    const g = groups.get(key);
    if (g) g.push(p);
    else groups.set(key, [p]);
  }
  const keys = [...groups.keys()].sort((a, b) => (param === null ? TRIGGERS.indexOf(a) - TRIGGERS.indexOf(b) : a.localeCompare(b)));
  return keys.map((key, i) => ({
    key: param === null ? key : `${param}=${key}`,
    label: param === null ? key : key === '' ? `${param} not set` : `${param} = ${shown(key)}`,
    color: param === null ? Math.max(0, TRIGGERS.indexOf(key)) : i % 6,
    points: groups.get(key) ?? [],
  }));
}
