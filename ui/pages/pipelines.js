// @ts-check
// Pipelines (docs/pipelines.md): the list, and a pipeline run drawn as a graph of its steps, by depth, each
// coloured by its state and linked to its run; a fan-out is one box with the counts of its items' states.
// The page polls once a second, so states change without a reload.
import { fill, api, every, h, link, memo, qs, stateBadge, time } from '../lib.js';

export async function renderPipelines(main, _params, _query, signal) {
  const box = h('div');
  main.append(h('h1', {}, 'Pipelines'), box);
  const once = memo();
  const load = async () => {
    const [{ pipelines }, { pipeline_runs: runs }] = /** @type {[import('../lib.js').Reply<'pipelines', 'list'>, import('../lib.js').Reply<'pipelines', 'runs'>]} */ (
      await Promise.all([api('/pipelines', { signal }), api(`/pipeline-runs${qs({ limit: 50 })}`, { signal })])
    );
    once([pipelines, runs], () => fill(box,
      pipelines.length === 0
        ? h('p', { class: 'muted' }, 'No pipeline is deployed (see docs/pipelines.md).')
        : h('table', { 'aria-label': 'Pipelines' },
            h('thead', {}, h('tr', {}, ['pipeline', 'steps', 'next', 'recent runs'].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', {}, pipelines.map((p) => h('tr', { 'data-pipeline': p.name },
              h('td', {}, `${p.project}/${p.name}`),
              h('td', {}, p.steps.map((s) => (s.map ? `${s.name}[${s.map}]` : s.name)).join(' → ')),
              h('td', {}, p.schedule ? time(p.schedule.next_fire_at) : h('span', { class: 'muted' }, 'on demand')),
              h('td', {}, h('ul', { class: 'plain' }, runs.filter((r) => r.project === p.project && r.pipeline === p.name).slice(0, 5).map((r) => h('li', {}, link(`/pipeline-runs/${r.id}`, stateBadge(r.state), ' ', time(r.created_at)))))))))),
    ));
  };
  await load();
  every(2000, signal, load, false);
}

/** Depth of each step: 0 without needs, else one more than its deepest need. */
function depths(steps) {
  const d = new Map();
  const of = (name) => {
    if (d.has(name)) return d.get(name);
    d.set(name, 0);
    const s = steps.find((x) => x.step === name);
    const v = s && s.needs.length > 0 ? 1 + Math.max(...s.needs.map(of)) : 0;
    d.set(name, v);
    return v;
  };
  for (const s of steps) of(s.step);
  return d;
}

export async function renderPipelineRun(main, [id], _query, signal) {
  const head = h('div');
  const graph = h('div', { class: 'pipeline-graph', role: 'list', 'aria-label': 'Steps' });
  main.append(h('h1', {}, 'Pipeline run ', h('code', {}, id)), head, graph);
  const headOnce = memo();
  const graphOnce = memo();
  const load = async () => {
    const pr = /** @type {import('../lib.js').Reply<'pipelines', 'get'>} */ (await api(`/pipeline-runs/${encodeURIComponent(id)}`, { signal }));
    headOnce([pr.state, pr.reason, pr.finished_at], () => fill(head,
      h('p', {}, `${pr.project}/${pr.pipeline} `, h('span', { 'data-pipeline-state': pr.state }, stateBadge(pr.state)), ' · ', pr.trigger, ' · logical time ', time(pr.scheduled_for),
        pr.rerun_of ? [' · rerun of ', link(`/pipeline-runs/${pr.rerun_of}`, pr.rerun_of)] : '', pr.reason ? ` · ${pr.reason}` : ''),
    ));
    graphOnce(pr.steps, () => {
      const d = depths(pr.steps);
      const columns = Math.max(0, ...d.values()) + 1;
      fill(graph, ...Array.from({ length: columns }, (_, col) => h('div', { class: 'pipeline-col' },
        pr.steps.filter((s) => d.get(s.step) === col).map((s) => {
          const counts = Object.entries(s.counts).map(([k, v]) => `${v} ${k.replace('_', ' ')}`).join(', ');
          const first = s.runs[0];
          const title = s.map === null && first ? link(`/runs/${first.run_id}`, s.step) : h('strong', {}, s.step);
          return h('div', { class: `pipeline-step state-${s.state}`, role: 'listitem', 'data-step': s.step, 'data-state': s.state },
            title, h('div', { class: 'small' }, s.job, s.map ? ` · map ${s.map}` : ''), h('div', { class: 'small' }, s.state),
            s.map !== null ? h('div', { class: 'small', 'data-counts': '' }, `${s.total} items${counts ? `: ${counts}` : ''}`) : '',
            s.map !== null && s.runs.length > 0 ? h('details', {}, h('summary', {}, 'items'), h('ul', { class: 'plain' }, s.runs.map((r) => h('li', {}, link(`/runs/${r.run_id}`, r.item_value ?? String(r.item)), ' ', stateBadge(r.state))))) : '',
            s.needs.length > 0 ? h('div', { class: 'small muted' }, `needs ${s.needs.join(', ')}`) : '');
        }))));
    });
  };
  await load();
  every(1000, signal, load, false);
}
