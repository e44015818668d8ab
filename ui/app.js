// @ts-check
// The dashboard's router: history-based, so every page has a real URL (/runs/ID, /jobs/PROJECT/JOB) that the
// server answers with index.html. Each page renders into <main> and gets an AbortSignal that ends its
// polling and streams when the user leaves it.
import { errorBox, h } from './lib.js';
import { renderRuns } from './pages/runs.js';
import { renderRun } from './pages/run.js';
import { renderJobs } from './pages/jobs.js';
import { renderJob } from './pages/job.js';
import { renderRunForm } from './pages/run-form.js';
import { renderWorkers } from './pages/workers.js';
import { renderDeployments } from './pages/deployments.js';
import { renderPackages } from './pages/packages.js';
import { renderPipelines, renderPipelineRun } from './pages/pipelines.js';
import { renderServices } from './pages/services.js';

/** @typedef {(main: HTMLElement, params: string[], query: URLSearchParams, signal: AbortSignal) => Promise<void>} Page */
/** @type {[RegExp, string, () => Page][]} */
const ROUTES = [
  [/^\/(?:runs\/?)?$/, 'runs', () => renderRuns],
  [/^\/runs\/([0-9a-z]+)$/, 'runs', () => renderRun],
  [/^\/jobs\/?$/, 'jobs', () => renderJobs],
  [/^\/jobs\/([^/]+)\/([^/]+)\/run$/, 'jobs', () => renderRunForm],
  [/^\/jobs\/([^/]+)\/([^/]+)$/, 'jobs', () => renderJob],
  [/^\/workers\/?$/, 'workers', () => renderWorkers],
  [/^\/deployments\/?$/, 'deployments', () => renderDeployments],
  [/^\/packages\/?$/, 'packages', () => renderPackages],
  [/^\/pipelines\/?$/, 'pipelines', () => renderPipelines],
  [/^\/pipeline-runs\/([0-9a-z]+)$/, 'pipelines', () => renderPipelineRun],
  [/^\/running-services\/?$/, 'services', () => renderServices],
];

let current = null;

async function route() {
  current?.abort();
  const ctrl = new AbortController();
  current = ctrl;
  const main = document.getElementById('main');
  const path = location.pathname;
  const found = ROUTES.map(([re, section, page]) => ({ m: re.exec(path), section, page })).find((r) => r.m);
  for (const a of /** @type {NodeListOf<HTMLAnchorElement>} */ (document.querySelectorAll('.top nav a'))) {
    if (found && a.dataset.section === found.section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  if (!found) {
    main.append(h('h1', {}, 'Not found'), h('p', {}, 'No page at ', h('code', {}, path), '.'));
    return;
  }
  try {
    await found.page()(main, found.m.slice(1).map(decodeURIComponent), new URLSearchParams(location.search), ctrl.signal);
  } catch (err) {
    if (ctrl.signal.aborted) return;
    main.append(errorBox(err));
  }
}

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  route();
  if (!replace) document.getElementById('main')?.focus({ preventScroll: true });
}

// Same-origin links are routed here; modified clicks (new tab, download) are left to the browser.
document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target instanceof Element ? /** @type {HTMLAnchorElement | null} */ (e.target.closest('a[href]')) : null;
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.getAttribute('href'), location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/services/')) return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', route);

// "/" focuses the page's filter or search field, as in most consoles.
document.addEventListener('keydown', (e) => {
  if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return;
  const f = /** @type {HTMLElement | null} */ (document.querySelector('[data-filter]'));
  if (f) {
    e.preventDefault();
    f.focus();
  }
});

route();
