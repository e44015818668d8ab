// @ts-check
// The team's package index: each package's versions, yanks, and the runs whose environment used each version.
import { fill, api, h, link, stateBadge, time } from '../lib.js';

export async function renderPackages(main, _params, _query, signal) {
  const box = h('div');
  main.append(
    h('h1', {}, 'Packages'),
    h('p', { class: 'muted' }, 'The internal Python package index at ', h('code', {}, `${location.origin}/simple/`), ' (', h('code', {}, 'kairos publish DIR'), ' uploads; see docs/packages.md).'),
    box,
  );
  const { packages } = /** @type {import('../lib.js').Reply<'packages', 'list'>} */ (await api('/packages', { signal }));
  fill(box,
    packages.length === 0
      ? h('p', { class: 'muted' }, 'No package has been published yet.')
      : h('table', { 'aria-label': 'Packages' },
          h('thead', {}, h('tr', {}, ['package', 'version', 'yanked', 'files', 'uploaded', 'used by'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, packages.flatMap((p) => [...p.versions].reverse().map((v) => h('tr', { 'data-package': p.normalized, 'data-version': v.version },
            h('td', {}, p.name), h('td', {}, h('code', {}, v.version)),
            h('td', {}, v.yanked ? stateBadge('failed', v.yanked_reason ? `yanked: ${v.yanked_reason}` : 'yanked') : ''),
            h('td', { class: 'num' }, v.files.length),
            h('td', {}, v.files[0] ? time(v.files[0].uploaded_at) : ''),
            h('td', {}, v.runs.length === 0 ? h('span', { class: 'muted' }, 'no run yet') : h('ul', { class: 'plain' }, v.runs.slice(0, 10).map((r) => h('li', {}, link(`/runs/${r.run_id}`, r.run_id), ` #${r.attempt}`))))))))),
  );
}
