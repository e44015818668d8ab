/**
 * The dashboard's files (the top-level `ui/` folder), served at `/` beside the API. Only files that exist
 * under ui/ are served: the request path is decoded, resolved and checked to stay inside the folder, and
 * anything else that looks like a page (no extension: /runs/ID, /jobs/P/J) gets index.html, which routes on
 * the client. The files carry no data; the page reads everything through the API with the user's token.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Hono } from 'hono';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

/** ui/ in the package: from src/api (sources) or dist/src/api (compiled), whichever holds it. */
export function defaultUiDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const dir = resolve(here, up, 'ui');
    try {
      if (statSync(join(dir, 'index.html')).isFile()) return dir;
    } catch {
      // not here
    }
  }
  return resolve(here, '../../..', 'ui');
}

interface Served {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const realRoots = new Map<string, string>();
function realRoot(root: string): string {
  let r = realRoots.get(root);
  if (r === undefined) realRoots.set(root, (r = realpathSync(root)));
  return r;
}

/** Resolves a URL path to a file inside `root`, or null. Never follows a path (or a link) out of root. */
export function resolveUiFile(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const rel = decoded.replace(/^\/+/, '');
  if (rel.split('/').some((seg) => seg === '..' || seg.startsWith('.'))) return null; // no dot-files, no climbing
  const file = resolve(root, rel);
  if (file !== root && !file.startsWith(root + sep)) return null;
  try {
    const real = realpathSync(file);
    if (!real.startsWith(realRoot(root) + sep) || !statSync(real).isFile()) return null;
    return real;
  } catch {
    return null;
  }
}

export function registerUi(app: Hono, root: string = defaultUiDir()): void {
  const cache = new Map<string, Served>();
  const load = (file: string): Served => {
    // Files are read on each request while the mtime changes (editing ui/ needs no restart); cached otherwise.
    const mtime = statSync(file).mtimeMs;
    const key = `${file}@${mtime}`;
    let s = cache.get(key);
    if (!s) {
      const body = readFileSync(file);
      s = { body, type: TYPES[extname(file)] ?? 'application/octet-stream', etag: `"${mtime.toString(36)}-${body.length.toString(36)}"` };
      cache.set(key, s);
    }
    return s;
  };

  // A middleware rather than a route: it answers only what no API route did, and stays out of the API's
  // route table (which the OpenAPI document must list in full).
  app.use('*', async (c, next) => {
    const path = c.req.path;
    if ((c.req.method !== 'GET' && c.req.method !== 'HEAD') || path === '/api' || path.startsWith('/api/')) return next();
    let file = resolveUiFile(root, path === '/' ? '/index.html' : path);
    // A page route (no extension) is the single-page app's; a missing asset is a 404.
    if (!file && extname(path) === '') file = resolveUiFile(root, '/index.html');
    if (!file) return next();
    const s = load(file);
    // Revalidate every time: a new version of Kairos must never run yesterday's script against today's API.
    c.header('cache-control', 'no-cache');
    c.header('etag', s.etag);
    c.header('x-content-type-options', 'nosniff');
    if (s.type.startsWith('text/html')) {
      c.header('content-security-policy', "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
      c.header('referrer-policy', 'no-referrer');
    }
    if (c.req.header('if-none-match') === s.etag) return c.body(null, 304);
    c.header('content-type', s.type);
    return c.body(new Uint8Array(s.body));
  });
}
