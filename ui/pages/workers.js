// @ts-check
// Workers and pools: who is alive, their capacity, and what each one runs now.
import { fill, api, every, h, link, memo, stateBadge, time } from '../lib.js';

export async function renderWorkers(main, _params, _query, signal) {
  const poolsBox = h('div');
  const workersBox = h('div');
  main.append(h('h1', {}, 'Workers and pools'), h('h2', {}, 'Pools'), poolsBox, h('h2', {}, 'Workers'), workersBox);
  const poolsOnce = memo();
  const workersOnce = memo();
  const load = async () => {
    const [{ workers }, { jobs }] = /** @type {[import('../lib.js').Reply<'ops', 'workers'>, import('../lib.js').Reply<'deployments', 'jobs'>]} */ (await Promise.all([api('/workers', { signal }), api('/jobs', { signal })]));
    const pools = new Map();
    const pool = (n) => {
      if (!pools.has(n)) pools.set(n, { name: n, workers: 0, alive: 0, capacity: 0, running: 0, jobs: [] });
      return pools.get(n);
    };
    for (const j of jobs) pool(j.pool).jobs.push(`${j.project}/${j.name}`);
    for (const w of workers) {
      for (const p of w.pools) {
        const e = pool(p);
        e.workers++;
        if (w.alive) (e.alive++, (e.capacity += w.capacity));
        e.running += w.running.length;
      }
    }
    poolsOnce([...pools.values()], () => fill(poolsBox,
      h('table', { 'aria-label': 'Pools' }, h('thead', {}, h('tr', {}, ['pool', 'alive workers', 'capacity', 'running', 'jobs'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, [...pools.values()].map((p) => h('tr', { 'data-pool': p.name }, h('td', {}, p.name), h('td', { class: 'num' }, `${p.alive} of ${p.workers}`), h('td', { class: 'num' }, p.capacity), h('td', { class: 'num' }, p.running), h('td', {}, p.jobs.length ? p.jobs.join(', ') : h('span', { class: 'muted' }, 'none')))))),
    ));
    workersOnce(workers, () => fill(workersBox,
      workers.length === 0
        ? h('p', { class: 'muted' }, 'No worker has registered.')
        : h('table', { 'aria-label': 'Workers' }, h('thead', {}, h('tr', {}, ['worker', 'host', 'alive', 'pools', 'capacity', 'running', 'version', 'last heartbeat'].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', {}, workers.map((w) => h('tr', { 'data-worker': w.id },
              h('td', {}, h('code', {}, w.id)), h('td', {}, w.host), h('td', {}, stateBadge(w.alive ? 'true' : 'false', w.alive ? 'alive' : w.stopped_at ? 'stopped' : 'silent')),
              h('td', {}, w.pools.join(', ')), h('td', { class: 'num' }, w.capacity),
              h('td', {}, w.running.length === 0 ? h('span', { class: 'muted' }, 'idle') : h('ul', { class: 'plain' }, w.running.map((r) => h('li', {}, link(`/runs/${r.run_id}`, `${r.project}/${r.job}`), ` #${r.attempt}`)))),
              h('td', {}, w.version), h('td', {}, time(w.heartbeat_at)))))),
    ));
  };
  await load();
  every(2000, signal, load, false);
}
