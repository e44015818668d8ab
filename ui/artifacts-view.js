// @ts-check
// A run's artifacts on its page: every one linked (downloaded with the user's token), and the common ones
// previewed inline: the first rows of a table (CSV, TSV, JSON lines, read with a Range request so a large
// file costs a few KiB), images (PNG, JPEG, GIF, WebP; SVG only as an <img>, where it runs no script), and HTML
// in an iframe with an empty `sandbox` (no scripts, an opaque origin): it cannot script the dashboard.
import { api, authHeaders, h, fill } from './lib.js';

const PREVIEW_BYTES = 64 * 1024;
const ROWS = 20;
const IMAGE_MAX = 20 * 1024 * 1024;
const HTML_MAX = 5 * 1024 * 1024;

/** @param {number} n */
function size(n) {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${u[i]}`;
}

/** @param {string} url @param {Record<string, string>} [extra] @param {AbortSignal} [signal] */
async function fetchArtifact(url, extra = {}, signal) {
  const res = await fetch(url, { headers: { ...authHeaders(), ...extra }, signal });
  if (!res.ok && res.status !== 206) throw new Error(`${res.status} ${res.statusText}`);
  return res;
}

/** Splits one CSV/TSV line (quotes honoured within the line). @param {string} line @param {string} sep */
function splitRow(line, sep) {
  /** @type {string[]} */
  const out = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** @param {string} text @param {'csv'|'tsv'|'jsonl'} kind @param {boolean} whole */
function tablePreview(text, kind, whole) {
  let lines = text.split('\n');
  if (!whole) lines = lines.slice(0, -1); // the last line may be cut by the range
  lines = lines.filter((l) => l.trim() !== '').slice(0, ROWS + 1);
  /** @type {string[][]} */
  let rows;
  /** @type {string[]} */
  let head;
  if (kind === 'jsonl') {
    const objs = lines.slice(0, ROWS).map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return { '(line)': l };
      }
    });
    head = [...new Set(objs.flatMap((o) => (o && typeof o === 'object' && !Array.isArray(o) ? Object.keys(o) : ['(value)'])))].slice(0, 30);
    rows = objs.map((o) => head.map((k) => {
      const v = o && typeof o === 'object' && !Array.isArray(o) ? o[k] : k === '(value)' ? o : undefined;
      return v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    }));
  } else {
    const all = lines.map((l) => splitRow(l.replace(/\r$/, ''), kind === 'tsv' ? '\t' : ','));
    head = all[0] ?? [];
    rows = all.slice(1, ROWS + 1);
  }
  return h('table', { class: 'artifact-preview', 'data-preview': 'table' },
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c.length > 200 ? c.slice(0, 200) + '…' : c))))));
}

/** @param {{ content_type: string, path: string }} a */
function kindOf(a) {
  const t = a.content_type.split(';')[0]?.trim() ?? '';
  if (t === 'text/csv') return 'csv';
  if (t === 'text/tab-separated-values') return 'tsv';
  if (t === 'application/jsonl') return 'jsonl';
  if (['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/svg+xml'].includes(t)) return 'image';
  if (t === 'text/html') return 'html';
  return null;
}

/**
 * @param {{ path: string, size: number, sha256: string, content_type: string, stored: boolean, url: string, attempt: number }} a
 * @param {AbortSignal} signal
 * @param {boolean} notebook the HTML rendering of an executed notebook
 */
async function preview(a, signal, notebook = false) {
  const kind = kindOf(a);
  if (!kind || !a.stored || a.size === 0) return null;
  if (kind === 'csv' || kind === 'tsv' || kind === 'jsonl') {
    const whole = a.size <= PREVIEW_BYTES;
    const res = await fetchArtifact(a.url, whole ? {} : { range: `bytes=0-${PREVIEW_BYTES - 1}` }, signal);
    const text = new TextDecoder().decode(await res.arrayBuffer());
    return tablePreview(text, kind, whole);
  }
  if (kind === 'image') {
    if (a.size > IMAGE_MAX) return h('p', { class: 'muted' }, `image too large to preview (${size(a.size)})`);
    const blob = await (await fetchArtifact(a.url, {}, signal)).blob();
    const src = URL.createObjectURL(new Blob([blob], { type: a.content_type }));
    signal.addEventListener('abort', () => URL.revokeObjectURL(src));
    return h('img', { src, alt: a.path, class: 'artifact-image', 'data-preview': 'image' });
  }
  if (a.size > HTML_MAX) return h('p', { class: 'muted' }, `page too large to preview (${size(a.size)})`);
  const html = await (await fetchArtifact(a.url, {}, signal)).text();
  // An empty sandbox: no scripts, no same origin, no forms, no top navigation.
  // A notebook job's rendering (beside its executed .ipynb) gets the room a notebook needs.
  const frame = h('iframe', { sandbox: '', title: a.path, class: notebook ? 'artifact-frame notebook-frame' : 'artifact-frame', 'data-preview': 'html', referrerpolicy: 'no-referrer' });
  /** @type {HTMLIFrameElement} */ (frame).srcdoc = html;
  return frame;
}

/** @param {{ path: string, url: string, content_type: string }} a */
function downloadLink(a) {
  const link = h('a', { href: a.url, 'data-artifact': a.path }, a.path);
  link.addEventListener('click', async (ev) => {
    ev.preventDefault();
    const res = await fetchArtifact(a.url + (a.url.includes('?') ? '&' : '?') + 'download=1');
    const url = URL.createObjectURL(await res.blob());
    const tmp = h('a', { href: url, download: a.path.split('/').pop() ?? 'artifact' });
    document.body.append(tmp);
    tmp.click();
    tmp.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  });
  return link;
}

/** Fills `box` with the run's artifacts and their previews. @param {HTMLElement} box @param {string} runId @param {AbortSignal} signal */
export async function renderArtifacts(box, runId, signal) {
  const { artifacts } = /** @type {import('./lib.js').Reply<'artifacts', 'list'>} */ (await api(`/runs/${encodeURIComponent(runId)}/artifacts`, { signal }));
  if (artifacts.length === 0) {
    fill(box, h('p', { class: 'muted' }, 'No artifacts.'));
    return;
  }
  const previews = artifacts.map(() => h('div', { class: 'artifact-preview-box' }));
  const paths = new Set(artifacts.map((a) => a.path));
  fill(box,
    h('table', { 'aria-label': 'Artifacts' },
      h('thead', {}, h('tr', {}, ['artifact', 'size', 'type', 'sha256', 'attempt'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, artifacts.map((a) => h('tr', {},
        h('td', {}, a.stored ? downloadLink(a) : h('code', { title: 'recorded before the artifact store: not on the server' }, a.path)),
        h('td', { class: 'num' }, size(a.size)),
        h('td', {}, a.content_type.split(';')[0] ?? ''),
        h('td', { class: 'mono', title: a.sha256 }, a.sha256.slice(0, 16)),
        h('td', { class: 'num' }, a.attempt))))),
    ...artifacts.map((a, i) => (kindOf(a) && a.stored ? h('figure', { class: 'artifact', 'data-artifact-preview': a.path }, h('figcaption', {}, a.path), previews[i]) : null)).filter(Boolean));
  for (const [i, a] of artifacts.entries()) {
    const target = previews[i];
    if (!target || !kindOf(a)) continue;
    try {
      const p = await preview(a, signal, paths.has(a.path.replace(/\.html$/, '.ipynb')) && a.path.endsWith('.html'));
      if (p) fill(target, p);
    } catch (err) {
      if (!signal.aborted) fill(target, h('p', { class: 'muted' }, `no preview: ${err instanceof Error ? err.message : String(err)}`));
    }
  }
}
