// @ts-check
// Jobs of the active deployments, with their schedules in words and next fire times.
import { fill, api, every, h, link, memo, time } from '../lib.js';

export async function renderJobs(main, _params, _query, signal) {
  const tbody = h('tbody');
  main.append(
    h('h1', {}, 'Jobs'),
    h('table', { 'aria-label': 'Jobs' }, h('thead', {}, h('tr', {}, ['job', 'description', 'schedule', 'next fire', 'pool', 'deployment', ''].map((c) => h('th', { scope: 'col' }, c)))), tbody),
  );
  const once = memo();
  const load = async () => {
    const [{ jobs }, { schedules }] = /** @type {[import('../lib.js').Reply<'deployments', 'jobs'>, import('../lib.js').Reply<'schedules', 'list'>]} */ (await Promise.all([api('/jobs', { signal }), api('/schedules?count=1', { signal })]));
    const sched = new Map(schedules.map((x) => [`${x.project}/${x.job}`, x]));
    once([jobs, schedules.map((x) => [x.project, x.job, x.cron, x.description, x.paused, x.next_fire_at])], () => fill(tbody,
      ...jobs.map((j) => {
        const key = `${j.project}/${j.name}`;
        const sc = sched.get(key);
        const href = `/jobs/${encodeURIComponent(j.project)}/${encodeURIComponent(j.name)}`;
        return h(
          'tr',
          { 'data-job': key },
          h('td', {}, link(href, key)),
          h('td', {}, j.description ?? ''),
          h('td', {}, sc ? [h('code', {}, sc.cron), ' ', h('span', { class: 'muted' }, sc.description ?? ''), sc.paused ? ' (paused)' : ''] : h('span', { class: 'muted' }, 'on demand')),
          h('td', {}, sc && !sc.paused ? time(sc.next_fire_at) : '—'),
          h('td', {}, j.pool),
          h('td', {}, `v${j.deployment_version}`),
          h('td', {}, link(`${href}/run`, 'Run…')),
        );
      }),
    ));
  };
  await load();
  every(5000, signal, load, false);
}
