// @ts-check
// Shared helpers of the dashboard: building DOM safely, calling the public API with the user's token,
// formatting times. Every value from the API reaches the page as text (textContent), never as HTML.

/**
 * The answer of one route of the API contract (src/api/contract/): `Reply<'runs', 'get'>` is what
 * GET /api/v1/runs/{id} returns. Pages cast `api()` results to it, so the dashboard is type-checked against
 * the schemas the server validates with (`tsc -p ui/tsconfig.json`, part of `npm test`).
 * @template {keyof Api} G
 * @template {keyof Api[G]} K
 * @typedef {Api[G][K] extends import('../src/api/contract/index.js').RouteSpec ? import('../src/api/contract/index.js').Answer<Api[G][K]> : never} Reply
 */
/** @typedef {typeof import('../src/api/contract/index.js').API} Api */

/** h('a', {href: '/x', class: 'y'}, 'text', child) → an element. Attributes starting with "on" are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) if (c !== undefined && c !== null) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

const TOKEN_KEY = 'kairos.token';
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** @type {Promise<void> | null} */
let asking = null;
/** Shows the token dialog once, however many requests were refused at the same time. */
export function askToken(why) {
  asking ??= new Promise((resolve) => {
    const dialog = /** @type {HTMLDialogElement} */ (document.getElementById('token-dialog'));
    const form = document.getElementById('token-form');
    const input = /** @type {HTMLInputElement} */ (document.getElementById('token-input'));
    const text = document.getElementById('token-why');
    if (why && token()) text.textContent = `The server refused the token: ${why}. Paste a valid one; it is kept for this browser tab only.`;
    input.value = '';
    const done = (e) => {
      e.preventDefault();
      if (!input.value) return;
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      form.removeEventListener('submit', done);
      dialog.close();
      asking = null;
      resolve();
    };
    form.addEventListener('submit', done);
    dialog.addEventListener('cancel', (e) => e.preventDefault());
    dialog.showModal();
    input.focus();
  });
  return asking;
}

export function authHeaders() {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/**
 * Calls /api/v1 + path. Asks for the token on 401 and tries again; other errors throw ApiError.
 * @param {string} path
 * @param {{ method?: string, body?: unknown, signal?: AbortSignal }} [opts]
 * @returns {Promise<any>} the answer: each call site casts it to its route's `Reply`
 */
export async function api(path, { method = 'GET', body, signal } = {}) {
  for (;;) {
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json', ...authHeaders() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    const data = await res.json().catch(() => null);
    if (res.status === 401) {
      await askToken(data?.error?.message);
      continue;
    }
    if (!res.ok) throw new ApiError(res.status, data?.error?.code ?? 'http_' + res.status, data?.error?.message ?? res.statusText, data?.error?.details);
    return data;
  }
}

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const t = u.toString();
  return t ? `?${t}` : '';
}

const pad = (n) => String(n).padStart(2, '0');
/** A time in the viewer's zone, to the second: 2026-11-23 22:40:01. */
export function when(isoText) {
  if (!isoText) return '—';
  const d = new Date(isoText);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function time(isoText) {
  return isoText ? h('time', { datetime: isoText, title: isoText }, when(isoText)) : '—';
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const sec = ms / 1000;
  if (sec < 60) return `${sec.toFixed(sec < 10 ? 2 : 1)} s`;
  const m = Math.floor(sec / 60);
  if (m < 60) return `${m} min ${Math.round(sec % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function runDuration(r) {
  if (!r.started_at) return null;
  const end = r.finished_at ? Date.parse(r.finished_at) : Date.now();
  return end - Date.parse(r.started_at);
}

export function stateBadge(state, label = state.replace('_', ' ')) {
  return h('span', { class: `state state-${state}` }, label);
}

export const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'skipped']);

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err instanceof ApiError ? `${err.message} (${err.code})` : String(err?.message ?? err));
}

/** Calls fn now and every `ms` until the signal aborts; a failed call shows in the live indicator. */
export function every(ms, signal, fn, immediate = true) {
  let timer = null;
  const tick = async () => {
    if (signal.aborted) return;
    try {
      await fn();
      setLive(true);
    } catch (err) {
      if (signal.aborted || err?.name === 'AbortError') return;
      setLive(false, err);
    }
    if (!signal.aborted) timer = setTimeout(tick, ms);
  };
  signal.addEventListener('abort', () => timer && clearTimeout(timer));
  if (immediate) return tick();
  timer = setTimeout(tick, ms);
  return Promise.resolve();
}

export function setLive(ok, err) {
  const el = document.getElementById('live');
  if (!el) return;
  el.textContent = ok ? `live · updated ${when(new Date().toISOString()).slice(11)}` : `not updating: ${err?.message ?? err}`;
}

/** A client-side link: the router takes the click, the browser still sees a real href (open in a new tab works). */
export function link(href, ...children) {
  return h('a', { href }, ...children);
}

export function shortId(id) {
  return id ? id.slice(-8) : '';
}

/** Client-side navigation from a page (the router in app.js listens for popstate). */
export function go(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

/** Replaces an element's children; null, undefined and false children are skipped (replaceChildren would print "null"). */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * A drawing that polling refreshes only when its data changed: redrawing unchanged links and buttons would
 * take the keyboard focus away from them every few seconds.
 */
export function memo() {
  let last;
  return (data, draw) => {
    const key = JSON.stringify(data);
    if (key === last) return;
    last = key;
    draw();
  };
}
