/**
 * Snapshots and inputs over HTTP (docs/snapshots.md; contract: src/api/contract/snapshots.ts). A snapshot
 * belongs to a project: project-limited tokens push and list their own project's only. Blobs are named by
 * their SHA-256 and refused unless the bytes match it.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Context, Hono } from 'hono';
import { stream } from 'hono/streaming';
import type { Engine } from '../control/engine.js';
import { resolveProject } from '../control/runs.js';
import { commitSnapshot, listSnapshotVersions, missingBlobs, runInputs, type SnapshotVersionView } from '../control/snapshots.js';
import { IntegrityError } from '../artifacts/store.js';
import { KairosError } from '../model/errors.js';
import { NAME_RULES } from '../manifest/fields.js';
import { listingProject, principalOf } from './auth.js';
import { API } from './contract/index.js';
import { input } from './input.js';

function requestStream(c: Context): Readable {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) return incoming;
  const body = c.req.raw.body;
  return body ? Readable.fromWeb(body as WebReadableStream<Uint8Array>) : Readable.from([]);
}

function view(v: SnapshotVersionView, latest: boolean) {
  return { ...v, kind: v.kind === 'file' ? ('file' as const) : ('dir' as const), created_at: new Date(v.created_at).toISOString(), latest };
}

export function registerSnapshotRoutes(app: Hono, engine: Engine): void {
  const S = API.snapshots;
  const db = engine.db.kysely;

  app.get(S.list.path, async (c) => {
    const { query } = await input(c, S.list);
    const project = listingProject(c, query.project);
    if (project === false) return c.json({ snapshots: [] });
    const rows = await listSnapshotVersions(db, { project: project ?? null, ...(query.name ? { name: query.name } : {}), limit: query.limit ?? 1000 });
    // Rows are newest first within a (project, name): the first of each is what `@latest` names.
    const seen = new Set<string>();
    return c.json({
      snapshots: rows.map((r) => {
        const key = `${r.project}/${r.name}`;
        const latest = !seen.has(key);
        seen.add(key);
        return view(r, latest);
      }),
    });
  });

  app.post(S.missing.path, async (c) => {
    const { body } = await input(c, S.missing);
    return c.json({ missing: await missingBlobs(engine.ctx, engine.artifacts, body.blobs) });
  });

  app.post(S.putBlob.path, async (c) => {
    const { params } = await input(c, S.putBlob);
    try {
      const info = await engine.artifacts.putStream(requestStream(c), { sha256: params.hash });
      await db.deleteFrom('blob_candidates').where('sha256', '=', info.sha256).execute();
      return c.json(info);
    } catch (err) {
      if (err instanceof IntegrityError) throw new KairosError('invalid_input', `the bytes do not match their name: ${err.message}`);
      throw err;
    }
  });

  app.post(S.commit.path, async (c) => {
    const { params, body } = await input(c, S.commit);
    const me = principalOf(c);
    if (me.project !== null && body.project !== undefined && body.project !== me.project) throw new KairosError('forbidden', `token "${me.name}" is limited to project ${me.project}`);
    const project = body.project ?? me.project ?? (await resolveProject(db, undefined)).project;
    if (!NAME_RULES.project.pattern.test(project)) throw new KairosError('invalid_input', `"${project}" is not a project name: ${NAME_RULES.project.rule}`);
    const { version, created } = await commitSnapshot(engine.ctx, engine.artifacts, { project, name: params.name, kind: body.kind, files: body.files, by: me.name });
    return c.json({ ...view(version, true), created }, created ? 201 : 200);
  });

  app.get(S.runInputs.path, async (c) => {
    const { params } = await input(c, S.runInputs);
    const run = await db.selectFrom('runs').select('id').where('id', '=', params.id).executeTakeFirst();
    if (!run) throw new KairosError('not_found', `run ${params.id} not found`);
    return c.json({ inputs: await runInputs(db, run.id) });
  });

  app.post(S.resolveInputs.path, async (c) => {
    const { body } = await input(c, S.resolveInputs);
    return c.json({ inputs: [...(await engine.resolveInputs(body.lease))] });
  });

  app.get(S.getBlob.path, async (c) => {
    const { params } = await input(c, S.getBlob);
    const info = await engine.artifacts.head(params.hash);
    if (!info) throw new KairosError('not_found', `blob ${params.hash} is not in the store`);
    const body = await engine.artifacts.get(params.hash);
    c.header('content-type', 'application/octet-stream');
    c.header('content-length', String(info.size));
    return stream(c, async (s) => {
      for await (const chunk of body as AsyncIterable<Buffer>) await s.write(chunk);
    });
  });
}
