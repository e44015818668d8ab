// @ts-check
// One run: what it is (job, parameters, logical time, deployment), what happened (attempts, a timeline, exit
// code and reason), its log (live while it runs, searchable) and its outputs; cancel and rerun.
import { fill, memo, api, askToken, authHeaders, duration, errorBox, every, go, h, link, runDuration, s, shortId, stateBadge, time, TERMINAL } from '../lib.js';
import { logLines, wrapToggle } from '../log-view.js';
import { renderArtifacts } from '../artifacts-view.js';

export async function renderRun(main, [id], _query, signal) {
  let run = /** @type {import('../lib.js').Reply<'runs', 'get'>} */ (await api(`/runs/${id}`, { signal }));
  const head = h('div');
  const facts = h('div');
  const attemptsBox = h('div');
  const timelineBox = h('div');
  const outputsBox = h('div');
  const artifactsBox = h('div', { 'data-artifacts': '' });
  const msg = h('div', { role: 'status', 'aria-live': 'polite' });

  const cancelBtn = h('button', { type: 'button', class: 'danger', 'data-action': 'cancel' }, 'Cancel run');
  const rerunBtn = h('button', { type: 'button', 'data-action': 'rerun' }, 'Rerun');
  cancelBtn.addEventListener('click', async () => {
    cancelBtn.disabled = true;
    try {
      run = /** @type {import('../lib.js').Reply<'runs', 'cancel'>} */ (await api(`/runs/${run.id}/cancel`, { method: 'POST' }));
      draw();
      rerunBtn.focus(); // the cancel button is now disabled and would drop the keyboard focus
      fill(msg, h('p', {}, run.state === 'cancelled' ? 'Cancelled.' : 'Cancel requested; the run is stopping.'));
    } catch (err) {
      fill(msg, errorBox(err));
      cancelBtn.disabled = false;
    }
  });
  rerunBtn.addEventListener('click', async () => {
    rerunBtn.disabled = true;
    try {
      const next = /** @type {import('../lib.js').Reply<'runs', 'rerun'>} */ (await api(`/runs/${run.id}/rerun`, { method: 'POST' }));
      go(`/runs/${next.id}`);
    } catch (err) {
      fill(msg, errorBox(err));
      rerunBtn.disabled = false;
    }
  });

  // The log: every loaded line is kept; the search shows the matching ones. Terminal colours are styled,
  // other escape sequences dropped (log-view.js); the search looks in the text as shown.
  const lines = [];
  const view = logLines();
  const pre = h('pre', { class: 'log', tabindex: '0', 'aria-label': 'Log', 'data-log': true });
  const search = h('input', { type: 'search', placeholder: 'Search the log', 'data-filter': true, 'aria-label': 'Search the log' });
  const logStatus = h('span', { class: 'muted', role: 'status' });
  const lineEl = (l, needle) => view.element(l, needle);
  const matches = (l, needle) => !needle || view.text(l).toLowerCase().includes(needle);
  const redrawLog = () => {
    const needle = search.value.trim().toLowerCase();
    const frag = document.createDocumentFragment();
    let n = 0;
    for (const l of lines) if (matches(l, needle)) (frag.append(lineEl(l, needle)), n++);
    fill(pre, frag);
    logStatus.textContent = needle ? `${n} of ${lines.length} lines match` : `${lines.length} lines`;
  };
  search.addEventListener('input', redrawLog);
  const addLines = (batch) => {
    const needle = search.value.trim().toLowerCase();
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    const frag = document.createDocumentFragment();
    for (const l of batch) {
      lines.push(l);
      view.text(l); // parsed in arrival order: a colour set on one line lasts into the next
      if (matches(l, needle)) frag.append(lineEl(l, needle));
    }
    pre.append(frag);
    if (atBottom) pre.scrollTop = pre.scrollHeight;
    logStatus.textContent = needle ? `${pre.childElementCount} of ${lines.length} lines match` : `${lines.length} lines`;
  };

  main.append(
    head,
    h('div', { class: 'actions' }, cancelBtn, rerunBtn),
    msg,
    h('div', { class: 'cols' }, h('section', { 'aria-labelledby': 'facts-h' }, h('h2', { id: 'facts-h' }, 'Run'), facts), h('section', { 'aria-labelledby': 'tl-h' }, h('h2', { id: 'tl-h' }, 'Timeline'), timelineBox, h('h2', {}, 'Attempts'), attemptsBox)),
    h('section', { 'aria-labelledby': 'log-h' }, h('h2', { id: 'log-h' }, 'Log'), h('div', { class: 'logbar' }, h('label', {}, 'Search', search), logStatus, wrapToggle(pre)), pre),
    h('section', { 'aria-labelledby': 'out-h' }, h('h2', { id: 'out-h' }, 'Metrics and artifacts'), outputsBox, artifactsBox),
  );

  let attempts = [];
  const once = memo();
  const draw = () => once([run, attempts], () => drawNow());
  const drawNow = () => {
    const r = run;
    const jobHref = `/jobs/${encodeURIComponent(r.project)}/${encodeURIComponent(r.job)}`;
    fill(head, h('h1', {}, 'Run ', h('code', {}, r.id), ' ', stateBadge(r.state)), h('p', {}, link(jobHref, `${r.project}/${r.job}`)));
    document.title = `${r.job} ${shortId(r.id)} · ${r.state} · Kairos`;
    cancelBtn.disabled = TERMINAL.has(r.state);
    const params = Object.entries(r.params ?? {});
    fill(facts,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'state'), h('dd', { 'data-field': 'state' }, stateBadge(r.state), r.cancel_requested && !TERMINAL.has(r.state) ? ' (cancel requested)' : ''),
        h('dt', {}, 'exit code'), h('dd', { 'data-field': 'exit_code' }, r.exit_code ?? '—'),
        h('dt', {}, 'reason'), h('dd', { 'data-field': 'reason', class: r.reason && r.state !== 'succeeded' ? 'reason' : undefined }, r.reason ?? '—'),
        r.reason_code ? [h('dt', {}, 'reason code'), h('dd', {}, h('code', { 'data-field': 'reason_code', title: 'stable code: see docs/runs.md' }, r.reason_code))] : null,
        h('dt', {}, 'trigger'), h('dd', {}, r.trigger, r.rerun_of ? [' of ', link(`/runs/${r.rerun_of}`, h('code', { 'data-field': 'rerun_of' }, r.rerun_of))] : ''),
        h('dt', {}, 'logical time'), h('dd', {}, time(r.scheduled_for)),
        h('dt', {}, 'parameters'), h('dd', { 'data-field': 'params' }, params.length === 0 ? '—' : h('ul', { class: 'plain' }, params.map(([k, v]) => h('li', {}, h('code', {}, `${k} = ${JSON.stringify(v)}`))))),
        h('dt', {}, 'attempt'), h('dd', {}, r.attempt),
        h('dt', {}, 'worker'), h('dd', { 'data-field': 'worker' }, attempts.length ? [...new Set(attempts.map((a) => a.worker_id))].join(', ') : '—'),
        h('dt', {}, 'pool'), h('dd', {}, r.pool),
        h('dt', {}, 'deployment'), h('dd', {}, link('/deployments', h('code', {}, r.deployment_id)), h('br'), h('span', { class: 'muted mono', title: r.bundle_hash }, `bundle ${r.bundle_hash.slice(0, 12)}`)),
        h('dt', {}, 'created'), h('dd', {}, time(r.created_at)),
        h('dt', {}, 'started'), h('dd', {}, time(r.started_at)),
        h('dt', {}, 'finished'), h('dd', {}, time(r.finished_at)),
        h('dt', {}, 'duration'), h('dd', {}, duration(runDuration(r))),
      ),
    );
    fill(attemptsBox,
      attempts.length === 0
        ? h('p', { class: 'muted' }, 'No attempt yet.')
        : h(
            'table',
            { 'aria-label': 'Attempts' },
            h('thead', {}, h('tr', {}, ['#', 'state', 'worker', 'started', 'finished', 'exit', 'reason'].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', {}, attempts.map((a) => h('tr', {}, h('td', {}, a.number), h('td', {}, stateBadge(a.state)), h('td', {}, h('code', {}, a.worker_id)), h('td', {}, time(a.started_at ?? a.claimed_at)), h('td', {}, time(a.finished_at)), h('td', {}, a.exit_code ?? ''), h('td', {}, a.reason_code ? h('code', {}, a.reason_code) : '', a.reason_code && a.reason ? ' ' : '', a.reason ?? '')))),
          ),
    );
    fill(timelineBox, timeline(r, attempts));
  };

  const loadOutputs = async () => {
    const o = /** @type {import('../lib.js').Reply<'runs', 'outputs'>} */ (await api(`/runs/${run.id}/outputs`, { signal }));
    fill(outputsBox,
      o.metrics.length === 0 ? h('p', { class: 'muted' }, 'No metrics.') : h('table', { 'aria-label': 'Metrics' }, h('thead', {}, h('tr', {}, ['metric', 'value', 'step', 'attempt', 'at'].map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, o.metrics.map((m) => h('tr', {}, h('td', {}, m.name), h('td', { class: 'num' }, m.value), h('td', { class: 'num' }, m.step ?? ''), h('td', { class: 'num' }, m.attempt), h('td', {}, time(m.ts)))))),
    );
    await renderArtifacts(artifactsBox, run.id, signal);
  };

  const refresh = async () => {
    const wasTerminal = TERMINAL.has(run.state);
    [run, { attempts }] = /** @type {[import('../lib.js').Reply<'runs', 'get'>, import('../lib.js').Reply<'runs', 'attempts'>]} */ (await Promise.all([api(`/runs/${id}`, { signal }), api(`/runs/${id}/attempts`, { signal })]));
    draw();
    if (TERMINAL.has(run.state) && !wasTerminal) await loadOutputs();
  };
  await refresh();
  await loadOutputs();
  every(1500, signal, async () => {
    if (!TERMINAL.has(run.state)) await refresh();
  }, false);
  void followLog(run.id, signal, addLines, () => void refresh().catch(() => {}));
}

/** Reads the live log (newline-delimited JSON), reconnecting after a drop from the last line it has. */
async function followLog(runId, signal, onLines, onEnd) {
  let after = 0;
  for (let tries = 0; !signal.aborted && tries < 100; tries++) {
    try {
      const res = await fetch(`/api/v1/runs/${runId}/logs/stream?after=${after}`, { headers: authHeaders(), signal });
      if (res.status === 401) {
        await askToken('');
        continue;
      }
      if (!res.ok || !res.body) throw new Error(`log stream: HTTP ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        const parts = buf.split('\n');
        buf = parts.pop() ?? '';
        const batch = [];
        for (const p of parts) {
          if (!p) continue;
          const ev = JSON.parse(p);
          if (ev.type === 'line') {
            batch.push(ev);
            after = ev.seq;
          } else if (ev.type === 'end') {
            if (batch.length) onLines(batch);
            onEnd();
            return;
          }
        }
        if (batch.length) onLines(batch);
      }
    } catch (err) {
      if (signal.aborted || err?.name === 'AbortError') return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The run's life as a bar: waiting (grey), then each attempt coloured by how it ended. */
function timeline(r, attempts) {
  const t0 = Date.parse(r.created_at);
  const t1 = r.finished_at ? Date.parse(r.finished_at) : Date.now();
  const span = Math.max(1, t1 - t0);
  const W = 600, X0 = 10, BW = W - 20;
  const x = (t) => X0 + ((t - t0) / span) * BW;
  const segs = [s('rect', { x: X0, y: 10, width: BW, height: 18, class: 'queued' }, s('title', {}, `queued from ${r.created_at}`))];
  const events = [h('li', {}, time(r.created_at), ` created (${r.trigger})`)];
  for (const a of attempts) {
    const from = Date.parse(a.started_at ?? a.claimed_at);
    const to = a.finished_at ? Date.parse(a.finished_at) : Date.now();
    segs.push(s('rect', { x: x(from), y: 10, width: Math.max(2, x(to) - x(from)), height: 18, class: a.state }, s('title', {}, `attempt ${a.number}: ${a.state} on ${a.worker_id}`)));
    events.push(h('li', {}, time(a.started_at ?? a.claimed_at), ` attempt ${a.number} started on ${a.worker_id}`));
    if (a.finished_at) events.push(h('li', {}, time(a.finished_at), ` attempt ${a.number} ${a.state}${a.reason ? `: ${a.reason}` : ''}`));
  }
  if (r.finished_at) events.push(h('li', {}, time(r.finished_at), ` run ${r.state}`));
  return h(
    'div',
    {},
    s('svg', { class: 'timeline chart', viewBox: `0 0 ${W} 50`, role: 'img', 'aria-label': `timeline: ${duration(span)} from creation to ${r.finished_at ? 'end' : 'now'}` }, segs, s('text', { x: X0, y: 44 }, 'created'), s('text', { x: W - 10, y: 44, 'text-anchor': 'end' }, `${r.finished_at ? 'ended' : 'now'}, ${duration(span)} later`)),
    h('ol', { class: 'plain events' }, events),
  );
}
