// @ts-check
// Deployments: each version of each project, who made it and when, and what it changed.
import { fill, api, errorBox, every, h, time } from '../lib.js';

function list(title, cls, items) {
  return items.length === 0 ? null : h('div', {}, h('strong', {}, title), h('ul', { class: 'plain' }, items.map((x) => h('li', { class: cls }, x))));
}

export async function renderDeployments(main, _params, _query, signal) {
  const tbody = h('tbody');
  main.append(h('h1', {}, 'Deployments'), h('table', { 'aria-label': 'Deployments' }, h('thead', {}, h('tr', {}, ['project', 'version', 'active', 'created', 'by', 'bundle', 'changes'].map((c) => h('th', { scope: 'col' }, c)))), tbody));
  const open = new Set();
  let shown = '';
  const load = async () => {
    const { deployments } = /** @type {import('../lib.js').Reply<'deployments', 'list'>} */ (await api('/deployments?limit=100', { signal }));
    const key = deployments.map((d) => `${d.id}:${d.active}`).join(',');
    if (key === shown) return;
    shown = key;
    fill(tbody,
      ...deployments.flatMap((d) => {
        const diffRow = h('tr', { class: 'diff', hidden: !open.has(d.id) }, h('td', { colspan: 7 }));
        const btn = h('button', { type: 'button', 'aria-expanded': String(open.has(d.id)), 'data-diff': d.id }, 'What changed');
        const showDiff = async () => {
          const cell = diffRow.firstChild;
          try {
            const diff = /** @type {import('../lib.js').Reply<'deployments', 'diff'>} */ (await api(`/deployments/${d.id}/diff`, { signal }));
            fill(cell,
              h('p', {}, diff.previous ? `v${diff.previous.version} → v${diff.version}` : `v${diff.version}: first version`),
              h('div', { class: 'cols' },
                h('div', {}, h('h3', {}, 'Jobs'), list('added', 'add', diff.jobs.added.map((j) => `+ ${j}`)), list('removed', 'del', diff.jobs.removed.map((j) => `− ${j}`)), list('changed', 'chg', diff.jobs.changed.map((c) => `~ ${c.job}: ${c.fields.join(', ')}`)),
                  diff.jobs.added.length + diff.jobs.removed.length + diff.jobs.changed.length === 0 ? h('p', { class: 'muted' }, 'no job changed') : null),
                h('div', {}, h('h3', {}, 'Files'), diff.files.available ? [list('added', 'add', diff.files.added.map((f) => `+ ${f}`)), list('removed', 'del', diff.files.removed.map((f) => `− ${f}`)), list('changed', 'chg', diff.files.changed.map((f) => `~ ${f}`)),
                  diff.files.added.length + diff.files.removed.length + diff.files.changed.length === 0 ? h('p', { class: 'muted' }, 'no file changed') : null] : h('p', { class: 'muted' }, 'bundle not on this server'))),
            );
          } catch (err) {
            fill(cell, errorBox(err));
          }
        };
        btn.addEventListener('click', () => {
          const now = diffRow.hidden;
          diffRow.hidden = !now;
          btn.setAttribute('aria-expanded', String(now));
          if (now) (open.add(d.id), showDiff());
          else open.delete(d.id);
        });
        if (open.has(d.id)) void showDiff();
        return [
          h('tr', { 'data-deployment': d.id }, h('td', {}, d.project), h('td', { class: 'num' }, `v${d.version}`), h('td', {}, d.active ? 'active' : ''), h('td', {}, time(d.created_at)), h('td', {}, d.deployed_by ? [h('strong', {}, d.deployed_by), ' '] : null, h('code', {}, d.source), d.git_commit ? h('div', { class: 'muted mono' }, `git ${d.git_commit.slice(0, 10)}${d.git_dirty ? ' (uncommitted changes)' : ''}`) : null), h('td', { class: 'mono', title: d.bundle_hash }, d.bundle_hash.slice(0, 12)), h('td', {}, btn)),
          diffRow,
        ];
      }),
    );
  };
  await load();
  every(5000, signal, load, false);
}
