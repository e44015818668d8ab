// @ts-check
// Running services (docs/services.md): each reachable at /services/<project>/<job>/ on this server. "Open"
// asks the server for a one-time ticket and opens the service with it in a new tab: the ticket becomes a
// cookie for that service's path alone, so the dashboard's token never travels in a URL.
import { fill, api, every, h, link, stateBadge, time } from '../lib.js';

export async function renderServices(main, _params, _query, signal) {
  const box = h('div');
  main.append(
    h('h1', {}, 'Services'),
    h('p', { class: 'muted' }, 'Service jobs and ', h('code', {}, 'kairos jupyter'), ' servers, relayed through this server by their workers (see docs/services.md).'),
    box,
  );
  const open = async (/** @type {string} */ project, /** @type {string} */ job) => {
    // Opened now, while the click still counts as the user's: a window opened after an await is blocked.
    const tab = window.open('about:blank', '_blank');
    try {
      const t = /** @type {{path: string}} */ (await api(`/services/${encodeURIComponent(project)}/${encodeURIComponent(job)}/session`, { method: 'POST', body: {} }));
      if (tab) tab.location.href = t.path;
      else location.assign(t.path);
    } catch (err) {
      tab?.close();
      fill(box, h('p', { class: 'error' }, `could not open ${project}/${job}: ${err instanceof Error ? err.message : String(err)}`));
    }
  };
  await every(5000, signal, async () => {
    const { services } = /** @type {import('../lib.js').Reply<'services', 'list'>} */ (await api('/services', { signal }));
    fill(box,
      services.length === 0
        ? h('p', { class: 'muted' }, 'No service is running.')
        : h('table', { 'aria-label': 'Services' },
            h('thead', {}, h('tr', {}, ['service', 'state', 'run', 'worker', 'up since', 'last used', ''].map((c) => h('th', { scope: 'col' }, c)))),
            h('tbody', {}, services.map((s) => {
              const button = h('button', { type: 'button', 'data-open': `${s.project}/${s.job}` }, 'open');
              button.addEventListener('click', () => void open(s.project, s.job));
              return h('tr', { 'data-service': `${s.project}/${s.job}` },
                h('td', {}, h('code', {}, s.path)),
                h('td', {}, stateBadge(s.state === 'up' ? 'succeeded' : 'queued', s.state)),
                h('td', {}, link(`/runs/${s.run_id}`, s.run_id), ` #${s.attempt}`),
                h('td', {}, s.worker_id),
                h('td', {}, s.up_at ? time(s.up_at) : ''),
                h('td', {}, s.last_used_at ? time(s.last_used_at) : ''),
                h('td', {}, s.state === 'up' ? button : ''));
            }))),
    );
  });
}
