// @ts-check
// One job: its schedule in words and next fire times, success rate, durations and outcomes, every metric it
// reports plotted over its runs, and the tick ledger (fired, skipped and why, late).
import { fill, api, duration, errorBox, every, h, link, memo, stateBadge, time } from '../lib.js';
import { durationChart } from '../chart.js';
import { metricsPanel } from './job-metrics.js';

export async function renderJob(main, [project, name], query, signal) {
  const base = `/jobs/${encodeURIComponent(project)}/${encodeURIComponent(name)}`;
  const head = h('div');
  const factsBox = h('div');
  const pauseBtn = h('button', { type: 'button', hidden: true });
  const scheduleMsg = h('div', { role: 'alert' });
  const scheduleBox = h('section', { 'aria-labelledby': 'sched-h' }, h('h2', { id: 'sched-h' }, 'Schedule'), factsBox, h('div', { class: 'actions' }, pauseBtn), scheduleMsg);
  const statsBox = h('div', { class: 'cards' });
  const chartBox = h('div');
  const metrics = metricsPanel(base, query, signal);
  const ticksBox = h('div');
  main.append(
    head,
    statsBox,
    h('div', { class: 'cols' },
      h('section', { 'aria-labelledby': 'dur-h' }, h('h2', { id: 'dur-h' }, 'Durations and outcomes'), chartBox),
      scheduleBox),
    h('section', { 'aria-labelledby': 'met-h' }, h('h2', { id: 'met-h' }, 'Metrics over time'), metrics.el),
    h('section', { 'aria-labelledby': 'ticks-h' }, h('h2', { id: 'ticks-h' }, 'Tick ledger'), ticksBox),
  );

  let drawnKey = '';
  const headOnce = memo();
  const statsOnce = memo();
  let drawnSchedule = '';
  let drawnTicks = '';
  const load = async () => {
    const [detail] = /** @type {[import('../lib.js').Reply<'deployments', 'job'>, unknown]} */ (await Promise.all([api(`${base}?count=5`, { signal }), metrics.refresh(signal)]));
    const { job, schedule, stats, recent } = detail;
    document.title = `${project}/${name} · Kairos`;
    headOnce([job.description], () => fill(head,
      h('h1', {}, `${project}/${name}`),
      job.description ? h('p', {}, job.description) : null,
      h('div', { class: 'actions' }, link(`${base}/run`, 'Run with parameters…'), link(`/runs?project=${encodeURIComponent(project)}&job=${encodeURIComponent(name)}`, 'All runs of this job')),
    ));
    const durations = recent.map((r) => r.duration_ms).filter((d) => d !== null).sort((a, b) => a - b);
    const median = durations.length ? durations[Math.floor((durations.length - 1) / 2)] : null;
    const last = recent[recent.length - 1];
    statsOnce([stats, median, last, job], () => fill(statsBox,
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'success rate'), h('div', { class: 'big', 'data-stat': 'success_rate' }, stats.success_rate === null ? '—' : `${Math.round(stats.success_rate * 1000) / 10}%`), h('div', { class: 'muted' }, `${stats.succeeded} of ${stats.finished} finished runs (last ${stats.window})`)),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'median duration'), h('div', { class: 'big' }, duration(median))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'last run'), last ? h('div', {}, link(`/runs/${last.id}`, stateBadge(last.state)), ' ', time(last.created_at)) : '—'),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'deployment'), h('div', {}, `v${job.deployment_version} · pool ${job.pool}`), h('div', { class: 'muted' }, job.timeout_ms ? `timeout ${duration(job.timeout_ms)}` : 'no timeout', ` · ${job.retries} retries`)),
    ));
    // Charts are redrawn only when something changed, so keyboard focus on a point survives the polling.
    const key = JSON.stringify(recent.map((r) => [r.id, r.state, r.duration_ms]));
    if (key !== drawnKey) {
      drawnKey = key;
      fill(chartBox, recent.length ? durationChart(recent) : h('p', { class: 'muted' }, 'No runs yet.'));
    }
    // Redrawn only when changed, so that focus on a button or link survives the polling.
    const schedKey = JSON.stringify(schedule);
    if (schedKey !== drawnSchedule) {
      drawnSchedule = schedKey;
      // The button is one element updated in place: the facts change every tick (next fire times).
      fill(factsBox, schedule ? scheduleFacts(schedule) : h('p', { class: 'muted' }, 'No schedule: this job runs on demand.'));
      pauseBtn.hidden = !schedule;
      if (schedule) {
        pauseBtn.dataset.action = schedule.paused ? 'resume' : 'pause';
        pauseBtn.textContent = schedule.paused ? 'Resume schedule' : 'Pause schedule';
      }
    }
    if (schedule) {
      const { ticks } = /** @type {import('../lib.js').Reply<'schedules', 'ticks'>} */ (await api(`/schedules/${encodeURIComponent(project)}/${encodeURIComponent(name)}/ticks?limit=50`, { signal }));
      const ticksKey = JSON.stringify(ticks);
      if (ticksKey === drawnTicks) return;
      drawnTicks = ticksKey;
      fill(ticksBox,
        ticks.length === 0
          ? h('p', { class: 'muted' }, 'No ticks yet.')
          : h('table', { 'aria-label': 'Tick ledger' }, h('thead', {}, h('tr', {}, ['tick', 'local', 'outcome', 'reason', 'run', 'late by'].map((c) => h('th', { scope: 'col' }, c)))),
              h('tbody', {}, ticks.map((t) => h('tr', {}, h('td', {}, time(t.instant)), h('td', { class: 'muted' }, t.local), h('td', {}, stateBadge(t.outcome)), h('td', {}, t.reason ?? ''), h('td', {}, t.run_id ? link(`/runs/${t.run_id}`, h('code', {}, t.run_id.slice(-8))) : ''), h('td', { class: 'num' }, t.lateness_ms ? duration(t.lateness_ms) : ''))))),
      );
    } else fill(ticksBox, h('p', { class: 'muted' }, 'No schedule, no ticks.'));
  };
  // Pause or resume the schedule; the page redraws from the API's answer.
  // Busy, not disabled: disabling the focused button would drop the keyboard focus.
  let busy = false;
  pauseBtn.addEventListener('click', async () => {
    if (busy) return;
    busy = true;
    pauseBtn.setAttribute('aria-busy', 'true');
    try {
      await api(`/schedules/${encodeURIComponent(project)}/${encodeURIComponent(name)}/${pauseBtn.dataset.action}`, { method: 'POST' });
      await load();
    } catch (err) {
      fill(scheduleMsg, errorBox(err));
    } finally {
      busy = false;
      pauseBtn.removeAttribute('aria-busy');
    }
  });
  await load();
  every(3000, signal, load, false);
}

function scheduleFacts(sc) {
  return h(
    'dl',
    { class: 'facts' },
    h('dt', {}, 'when'), h('dd', { 'data-field': 'schedule' }, sc.description ?? sc.cron),
    h('dt', {}, 'cron'), h('dd', {}, h('code', {}, sc.cron), ` in ${sc.timezone}`),
    h('dt', {}, 'catch-up'), h('dd', {}, sc.catchup),
    h('dt', {}, 'concurrency'), h('dd', {}, sc.concurrency),
    h('dt', {}, 'state'), h('dd', {}, sc.paused ? 'paused' : 'active'),
    h('dt', {}, 'next fire times'), h('dd', {}, sc.next.length === 0 ? '—' : h('ol', { class: 'plain' }, sc.next.map((n) => h('li', {}, time(n.at), h('span', { class: 'muted' }, ` (${n.local})`))))),
    sc.dst_note ? [h('dt', {}, 'daylight saving'), h('dd', {}, sc.dst_note)] : null,
  );
}
