/**
 * Artifacts over HTTP: the worker routes by which an ended attempt's files reach the artifact store, and the
 * reading routes (list; download with Range, the right Content-Type, a safe Content-Disposition). Downloads
 * are served with a sandboxing Content-Security-Policy and nosniff: an HTML or SVG artifact opened from the
 * server's origin runs no script there, so it cannot act as the dashboard's user.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Context, Hono } from 'hono';
import type { Engine } from '../control/engine.js';
import { receiveArtifact, artifactsWanted } from '../control/artifacts.js';
import { requireRun } from '../control/runs.js';
import { KairosError } from '../model/errors.js';
import { API } from './contract/index.js';
import { input } from './input.js';

function requestBody(c: Context): Readable {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) return incoming;
  const body = c.req.raw.body;
  if (!body) return Readable.from([]);
  return Readable.from(body as unknown as AsyncIterable<Uint8Array>);
}

/** `attachment`/`inline` with the file's name: ASCII fallback quoted safely, the full name RFC 5987-encoded. */
export function contentDisposition(kind: 'inline' | 'attachment', path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1) || 'artifact';
  const ascii = base.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(base)}`;
}

/** What every artifact response says: a sandboxed document with no script, and no content sniffing. */
const ARTIFACT_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; media-src 'self'";

/** Parses one `bytes=` range against `size`; null when absent; 'bad' when it cannot be served (416). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | 'bad' {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return header.startsWith('bytes=') ? 'bad' : null;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return 'bad';
  let start: number;
  let end: number;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'bad';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start > end || start >= size) return 'bad';
  return { start, end };
}

export function registerArtifactRoutes(app: Hono, engine: Engine): void {
  const A = API.artifacts;
  const db = engine.db.kysely;

  app.post(A.wanted.path, async (c) => {
    const { body } = await input(c, A.wanted);
    return c.json(await artifactsWanted(engine.ctx, body.lease, body.artifacts));
  });

  app.post(A.upload.path, async (c) => {
    const { params, query } = await input(c, A.upload);
    const lease = { runId: query.run, attempt: Number(query.attempt), token: query.lease };
    const info = await receiveArtifact(engine.ctx, lease, { sha256: params.hash, size: Number(query.size) }, requestBody(c)).catch((err: unknown) => {
      if (err instanceof Error && err.name === 'IntegrityError') throw new KairosError('invalid_input', err.message);
      throw err;
    });
    return c.json({ sha256: info.sha256, size: info.size });
  });

  app.get(A.list.path, async (c) => {
    const { params, query } = await input(c, A.list);
    const run = await requireRun(db, params.id);
    let q = db.selectFrom('artifacts').selectAll().where('run_id', '=', run.id);
    if (query.attempt) q = q.where('attempt', '=', Number(query.attempt));
    const rows = await q.orderBy('path').orderBy('attempt', 'desc').execute();
    // One entry a path: the latest attempt's (unless an attempt was asked for).
    const seen = new Set<string>();
    const artifacts = [];
    for (const r of rows) {
      if (seen.has(r.path)) continue;
      seen.add(r.path);
      const url = `/api/v1/runs/${encodeURIComponent(run.id)}/artifacts/${r.path.split('/').map(encodeURIComponent).join('/')}${query.attempt ? `?attempt=${r.attempt}` : ''}`;
      artifacts.push({ attempt: r.attempt, path: r.path, size: Number(r.size), sha256: r.sha256, content_type: r.content_type ?? 'application/octet-stream', stored: Number(r.stored) === 1, url });
    }
    return c.json({ artifacts });
  });

  app.get(A.download.path, async (c) => {
    const { params, query } = await input(c, A.download);
    const run = await requireRun(db, params.id);
    let q = db.selectFrom('artifacts').selectAll().where('run_id', '=', run.id).where('path', '=', params.path);
    if (query.attempt) q = q.where('attempt', '=', Number(query.attempt));
    const row = await q.orderBy('attempt', 'desc').executeTakeFirst();
    if (!row) throw new KairosError('not_found', `run ${run.id} has no artifact ${JSON.stringify(params.path)}`);
    if (Number(row.stored) !== 1) throw new KairosError('conflict', `artifact ${JSON.stringify(row.path)} of run ${run.id} was recorded before the artifact store: its bytes stayed on the worker`);
    const size = Number(row.size);
    const headers: Record<string, string> = {
      'content-type': row.content_type ?? 'application/octet-stream',
      'content-disposition': contentDisposition(query.download === '1' ? 'attachment' : 'inline', row.path),
      'content-security-policy': ARTIFACT_CSP,
      'x-content-type-options': 'nosniff',
      'accept-ranges': 'bytes',
      etag: `"${row.sha256}"`,
      'x-kairos-sha256': row.sha256,
      'cache-control': 'private, max-age=3600',
    };
    const range = parseRange(c.req.header('range'), size);
    if (range === 'bad') {
      return c.json({ error: { code: 'invalid_input', message: `range ${c.req.header('range')} is outside the artifact (${size} bytes)` } }, 416, { 'content-range': `bytes */${size}` });
    }
    const stream = await engine.ctx.artifactStore.get(row.sha256, range ?? undefined);
    const web = Readable.toWeb(stream) as unknown as ReadableStream;
    if (range) {
      return c.body(web, 206, { ...headers, 'content-range': `bytes ${range.start}-${range.end}/${size}`, 'content-length': String(range.end - range.start + 1) });
    }
    return c.body(web, 200, { ...headers, 'content-length': String(size) });
  });
}
