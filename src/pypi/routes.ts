/**
 * The index over HTTP: `/simple/` (PEP 503 HTML and PEP 691 JSON by `Accept`), files and their PEP 658
 * `.metadata` under `/pypi/files/<sha256>/<filename>`, uploads at `/legacy/` (twine's multipart
 * `:action=file_upload`), and the JSON API under /api/v1/packages (listing, yank, un-yank, delete).
 */
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import { KairosError } from '../model/errors.js';
import type { Db } from '../store/db.js';
import { principalOf } from '../api/auth.js';
import { API } from '../api/contract/index.js';
import { input } from '../api/input.js';
import { IndexAuth, IndexAuthError, mayPublish, mayRead, parsePrefixes, type IndexPrincipal } from './auth.js';
import { maxUploadBytes, PackageIndex, PAGE_HTML, PAGE_HTML_V1, PAGE_JSON, type Page } from './index.js';
import { normalize } from './names.js';
import { errorStatus } from '../api/errors.js';
import type { ArtifactStore } from '../artifacts/store.js';

export interface PackageRouteOptions {
  readonly db: Db;
  /** Where package files are kept: the server's artifact store. */
  readonly store: ArtifactStore;
  readonly bootstrapToken: string | null;
  /** Read tokens of this process's own worker (never stored). */
  readonly internalTokens?: readonly string[];
  /** One line per index request (method, path, status): the server's log of the index. */
  readonly log?: (line: string) => void;
  readonly index?: PackageIndex;
}

/** The representation `Accept` asks for (PEP 691): JSON, or HTML (the default); null when neither is acceptable. */
export function negotiate(accept: string | undefined): 'json' | 'html' | null {
  if (!accept || accept.trim() === '') return 'html';
  let best: { kind: 'json' | 'html'; q: number } | null = null;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().split(';');
    const q = Number(params.map((p) => p.trim()).find((p) => p.startsWith('q='))?.slice(2) ?? '1');
    const t = (type ?? '').trim().toLowerCase();
    const kind = t === PAGE_JSON || t === 'application/vnd.pypi.simple.latest+json' ? 'json' : t === PAGE_HTML_V1 || t === 'application/vnd.pypi.simple.latest+html' || t === 'text/html' || t === '*/*' || t === 'text/*' ? 'html' : null;
    if (kind && Number.isFinite(q) && q > 0 && (!best || q > best.q)) best = { kind, q };
  }
  return best?.kind ?? null;
}

function text(status: number, message: string, extra: Record<string, string> = {}): Response {
  return new Response(message + '\n', { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...extra } });
}

function failure(err: unknown): Response {
  if (err instanceof IndexAuthError) return text(err.status, err.message, err.status === 401 ? { 'www-authenticate': 'Basic realm="kairos"' } : {});
  if (err instanceof KairosError) return text(errorStatus(err.code), err.message);
  throw err;
}

function servePage(c: Context, page: Page): Response {
  const kind = negotiate(c.req.header('accept'));
  if (kind === null) return text(406, `acceptable: ${PAGE_JSON}, ${PAGE_HTML_V1}, ${PAGE_HTML}`, { vary: 'Accept' });
  const gz = /\bgzip\b/.test(c.req.header('accept-encoding') ?? '');
  const etag = `${page.etag.slice(0, -1)}-${kind}${gz ? '-gz' : ''}"`;
  const headers = { vary: 'Accept, Accept-Encoding', etag, 'cache-control': 'max-age=0, must-revalidate', 'x-content-type-options': 'nosniff' };
  const inm = c.req.header('if-none-match');
  if (inm && inm.split(',').some((t) => t.trim() === etag)) return new Response(null, { status: 304, headers });
  const b = page.bodies;
  const body = kind === 'json' ? (gz ? b.jsonGz : b.json) : gz ? b.htmlGz : b.html;
  const type = kind === 'json' ? PAGE_JSON : `${PAGE_HTML}; charset=utf-8`;
  const sent = { ...headers, 'content-type': type, 'content-length': String(body.length), ...(gz ? { 'content-encoding': 'gzip' } : {}) };
  return new Response(c.req.method === 'HEAD' ? null : new Uint8Array(body.buffer, body.byteOffset, body.length), { status: 200, headers: sent });
}

/** Paths the index itself answers (not API routes: they speak the Python packaging standards, not the contract). */
export function isIndexPath(path: string): boolean {
  return path === '/simple' || path.startsWith('/simple/') || path.startsWith('/pypi/files/') || path === '/legacy' || path === '/legacy/';
}

export function registerPackageRoutes(api: Hono, opts: PackageRouteOptions): PackageIndex {
  // The index's own routes live on an app of their own, reached through one middleware: the API's route
  // table (scopes, contract) covers the API, and the index answers its paths with its own auth.
  const app = new Hono();
  api.use('*', async (c, next) => {
    if (!isIndexPath(c.req.path)) return next();
    return app.fetch(c.req.raw, c.env);
  });
  const index = opts.index ?? new PackageIndex(opts.db, opts.store);
  const auth = new IndexAuth(opts.db, opts.bootstrapToken, opts.internalTokens ?? []);
  const log = opts.log ?? (process.env.KAIROS_PACKAGE_LOG ? (l: string) => process.stderr.write(l + '\n') : null);

  const reader = async (c: Context): Promise<IndexPrincipal> => {
    const p = await auth.principal(c);
    if (!mayRead(p)) throw new IndexAuthError(403, `token "${p.name}" (scope ${p.scope}) may not read the index`);
    return p;
  };
  const logged = (handler: (c: Context) => Promise<Response>) => async (c: Context) => {
    let res: Response;
    try {
      res = await handler(c);
    } catch (err) {
      res = failure(err);
    }
    log?.(`kairos index: ${c.req.method} ${c.req.path} ${res.status}`);
    return res;
  };

  const simple = logged(async (c) => {
    await reader(c);
    const rest = c.req.path.slice('/simple'.length);
    if (rest === '') return c.redirect('/simple/', 301);
    if (rest === '/') return servePage(c, await index.rootPage());
    const m = /^\/([^/]+)(\/?)$/.exec(rest);
    if (!m?.[1]) return text(404, 'not found');
    let raw: string;
    try {
      raw = decodeURIComponent(m[1]);
    } catch {
      return text(404, 'not found');
    }
    const norm = normalize(raw);
    if (norm !== raw || m[2] !== '/') return c.redirect(`/simple/${encodeURIComponent(norm)}/`, 301);
    const page = await index.projectPage(norm);
    if (!page) return text(404, `no project "${norm}" on this index`, { vary: 'Accept' });
    return servePage(c, page);
  });
  app.on(['GET', 'HEAD'], '/simple', simple);
  app.on(['GET', 'HEAD'], '/simple/*', simple);

  app.on(
    ['GET', 'HEAD'],
    '/pypi/files/:sha/:filename',
    logged(async (c) => {
      await reader(c);
      const sha = c.req.param('sha') ?? '';
      let filename = c.req.param('filename') ?? '';
      const wantsMetadata = filename.endsWith('.metadata');
      if (wantsMetadata) filename = filename.slice(0, -'.metadata'.length);
      const row = /^[0-9a-f]{64}$/.test(sha) ? await index.file(sha, filename) : null;
      const blob = row ? (wantsMetadata ? row.metadata_sha256 : row.sha256) : null;
      if (!row || !blob) return text(404, 'not found');
      const head = await index.blobs.head(blob);
      if (!head) return text(404, 'the file is missing from the store');
      const headers = {
        'content-type': wantsMetadata ? 'text/plain; charset=utf-8' : 'application/octet-stream',
        'content-length': String(head.size),
        etag: `"${blob}"`,
        'cache-control': 'public, max-age=31536000, immutable',
        'x-content-type-options': 'nosniff',
      };
      if (c.req.method === 'HEAD') return new Response(null, { status: 200, headers });
      return new Response(Readable.toWeb(await index.blobs.get(blob)) as ReadableStream, { status: 200, headers });
    }),
  );

  const upload = logged(async (c) => {
    const p = await auth.principal(c);
    if (p.scope !== 'publish' && p.scope !== 'admin') throw new IndexAuthError(403, `token "${p.name}" has scope ${p.scope}; uploading needs publish`);
    const max = maxUploadBytes();
    const length = Number(c.req.header('content-length') ?? NaN);
    if (!Number.isFinite(length)) return text(411, 'Content-Length is required');
    if (length > max + 1024 * 1024) return text(413, `the upload is larger than ${max} bytes (KAIROS_PACKAGE_MAX_BYTES)`);
    let form: FormData;
    try {
      form = await c.req.raw.formData();
    } catch {
      throw new KairosError('invalid_input', 'the body must be multipart/form-data as twine sends it');
    }
    const content = form.get('content');
    if (!content || typeof content === 'string') throw new KairosError('invalid_input', 'the form has no file in "content"');
    if (content.size > max) return text(413, `the file is larger than ${max} bytes (KAIROS_PACKAGE_MAX_BYTES)`);
    const fields = new Map<string, string>();
    for (const [k, v] of form.entries()) if (typeof v === 'string' && !fields.has(k)) fields.set(k, v);
    const bytes = Buffer.from(await content.arrayBuffer());
    const r = await index.upload({ fields, filename: content.name, bytes, by: p.name }, (project) => mayPublish(p, project));
    return text(200, r.created ? `OK: ${content.name}` : `OK: ${content.name} (already there, same bytes)`);
  });
  app.post('/legacy', upload);
  app.post('/legacy/', upload);

  const P = API.packages;
  app.notFound(() => text(404, 'not found'));
  const publisher = async (c: Context, name: string) => {
    const me = principalOf(c);
    if (me.scope === 'admin') return;
    const row = await opts.db.kysely.selectFrom('tokens').select('packages').where('name', '=', me.name).where('revoked_at', 'is', null).executeTakeFirst();
    if (!mayPublish({ ...me, packages: parsePrefixes(row?.packages) }, normalize(name))) throw new KairosError('forbidden', `token "${me.name}" may not publish "${name}"`);
  };
  api.get(P.list.path, async (c) => {
    await input(c, P.list);
    return c.json({ packages: await index.listing() });
  });
  api.get(P.get.path, async (c) => {
    const { params } = await input(c, P.get);
    const [found] = await index.listing(params.name);
    if (!found) throw new KairosError('not_found', `no package "${params.name}" on this index`);
    return c.json(found);
  });
  for (const [spec, yanked] of [
    [P.yank, true],
    [P.unyank, false],
  ] as const) {
    api.post(spec.path, async (c) => {
      const { params, body } = await input(c, spec);
      await publisher(c, params.name);
      const reason = 'reason' in body && typeof body.reason === 'string' ? body.reason : null;
      const files = await index.setYanked(params.name, params.version, yanked, reason);
      return c.json({ name: normalize(params.name), version: params.version, yanked, files });
    });
  }
  api.delete(P.deleteVersion.path, async (c) => {
    const { params } = await input(c, P.deleteVersion);
    await publisher(c, params.name);
    return c.json({ name: normalize(params.name), version: params.version, deleted: await index.deleteVersion(params.name, params.version) });
  });
  return index;
}
