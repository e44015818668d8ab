// @ts-check
// Runs: a filtered, keyset-paginated list, newest first. The first page follows new runs live (polled with
// the same filter); older pages are fixed. One API call per screen, answered from an index: no counts.
import { fill, api, duration, every, go, h, link, qs, runDuration, stateBadge, time, errorBox } from '../lib.js';

const STATES = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped'];
const TRIGGERS = ['schedule', 'manual', 'backfill', 'rerun'];
const PAGE = 50;

function toLocalInput(isoText) {
  if (!isoText) return '';
  const d = new Date(isoText);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export async function renderRuns(main, _params, query, signal) {
  const f = {
    job: query.get('project') && query.get('job') ? `${query.get('project')}/${query.get('job')}` : '',
    state: query.get('state') ?? '',
    trigger: query.get('trigger') ?? '',
    since: query.get('since') ?? '',
    until: query.get('until') ?? '',
    before: query.get('before') ?? '',
  };

  const jobSel = h('select', { name: 'job', 'data-filter': true, 'aria-label': 'job' }, h('option', { value: '' }, 'all jobs'));
  if (f.job) jobSel.append(h('option', { value: f.job, selected: true }, f.job));
  const stateSel = h('select', { name: 'state' }, h('option', { value: '' }, 'any state'), STATES.map((x) => h('option', { value: x, selected: f.state === x }, x)));
  const trigSel = h('select', { name: 'trigger' }, h('option', { value: '' }, 'any trigger'), TRIGGERS.map((x) => h('option', { value: x, selected: f.trigger === x }, x)));
  const since = h('input', { type: 'datetime-local', name: 'since', value: toLocalInput(f.since) });
  const until = h('input', { type: 'datetime-local', name: 'until', value: toLocalInput(f.until) });
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter runs' },
    h('label', {}, 'Job', jobSel),
    h('label', {}, 'State', stateSel),
    h('label', {}, 'Trigger', trigSel),
    h('label', {}, 'Created from', since),
    h('label', {}, 'Created before', until),
    h('button', { type: 'submit', class: 'primary' }, 'Filter'),
    h('a', { href: '/runs' }, 'Clear'),
    h('span', { class: 'hint' }, h('kbd', {}, '/'), ' filter · ', h('kbd', {}, 'j'), ' ', h('kbd', {}, 'k'), ' move · ', h('kbd', {}, 'Enter'), ' open'),
  );
  const apply = () => {
    const [project, job] = jobSel.value ? jobSel.value.split('/') : ['', ''];
    const toIso = (v) => (v ? new Date(v).toISOString() : '');
    go('/runs' + qs({ project, job, state: stateSel.value, trigger: trigSel.value, since: toIso(since.value), until: toIso(until.value) }));
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    apply();
  });
  // Selects apply at once (keyboard users change them with arrows, then the list follows).
  for (const el of [jobSel, stateSel, trigSel]) el.addEventListener('change', apply);

  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'runs', 'aria-label': 'Runs' },
    h('thead', {}, h('tr', {}, ['run', 'job', 'state', 'trigger', 'attempt', 'logical time', 'created', 'duration', 'exit'].map((c) => h('th', { scope: 'col', class: c === 'exit' || c === 'attempt' ? 'num' : undefined }, c)))),
    tbody,
  );
  const pager = h('div', { class: 'pager' });
  const status = h('p', { class: 'muted', role: 'status' });
  main.append(h('h1', {}, 'Runs'), form, table, status, pager);

  api('/jobs', { signal })
    .then(({ jobs }) => {
      for (const j of jobs) {
        const v = `${j.project}/${j.name}`;
        if (v !== f.job) jobSel.append(h('option', { value: v }, v));
      }
    })
    .catch(() => {});

  const [project, job] = f.job ? f.job.split('/') : [undefined, undefined];
  const base = { project, job, state: f.state, trigger: f.trigger, since: f.since, until: f.until, limit: PAGE };
  let shown = '';
  let selected = null;

  const draw = (runs) => {
    const key = runs.map((r) => `${r.id}:${r.state}:${r.finished_at}`).join(',');
    if (key === shown) return;
    shown = key;
    const focusedId = document.activeElement?.closest?.('tr')?.dataset.id;
    fill(tbody,
      ...runs.map((r) =>
        h(
          'tr',
          { 'data-id': r.id, 'data-state': r.state, class: r.id === selected ? 'selected' : undefined },
          h('td', {}, link(`/runs/${r.id}`, h('code', {}, r.id))),
          h('td', {}, link(`/jobs/${encodeURIComponent(r.project)}/${encodeURIComponent(r.job)}`, `${r.project}/${r.job}`)),
          h('td', {}, stateBadge(r.state)),
          h('td', {}, r.trigger),
          h('td', { class: 'num' }, r.attempt),
          h('td', {}, time(r.scheduled_for)),
          h('td', {}, time(r.created_at)),
          h('td', { class: 'num' }, duration(runDuration(r))),
          h('td', { class: 'num' }, r.exit_code ?? ''),
        ),
      ),
    );
    if (focusedId) tbody.querySelector(`tr[data-id="${CSS.escape(focusedId)}"] a`)?.focus();
    status.textContent = runs.length === 0 ? 'No runs match.' : '';
  };

  const drawPager = (nextBefore) => {
    fill(pager,
      f.before ? link('/runs' + qs({ ...base, limit: undefined }), '← Newest') : null,
      nextBefore ? link('/runs' + qs({ ...base, limit: undefined, before: nextBefore }), 'Older →') : h('span', { class: 'muted' }, 'End of history'),
    );
  };

  const load = async () => {
    const r = /** @type {import('../lib.js').Reply<'runs', 'list'>} */ (await api('/runs' + qs({ ...base, before: f.before }), { signal }));
    draw(r.runs);
    drawPager(r.next_before);
  };

  const onKey = (e) => {
    if (e.key !== 'j' && e.key !== 'k') return;
    const t = e.target;
    if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) return;
    const rows = [...tbody.querySelectorAll('tr')];
    if (rows.length === 0) return;
    let i = rows.findIndex((r) => r.dataset.id === selected);
    i = i < 0 ? 0 : Math.max(0, Math.min(rows.length - 1, i + (e.key === 'j' ? 1 : -1)));
    for (const r of rows) r.classList.remove('selected');
    const row = rows[i];
    selected = row.dataset.id;
    row.classList.add('selected');
    row.querySelector('a')?.focus();
    e.preventDefault();
  };
  document.addEventListener('keydown', onKey);
  signal.addEventListener('abort', () => document.removeEventListener('keydown', onKey));

  try {
    await load();
  } catch (err) {
    if (!signal.aborted) main.append(errorBox(err));
    return;
  }
  // The first screen is usable: rows drawn, filter focusable. The benchmark reads this mark.
  performance.mark('kairos:runs-ready');
  document.body.dataset.ready = 'runs';
  if (!f.before) every(2000, signal, load, false);
}
