/**
 * The HTTP API under /api/v1. Handlers are thin: parse the request, call the engine, shape the answer.
 */
import { Hono, type Context } from 'hono';
import { stream } from 'hono/streaming';
import { KairosError } from '../model/errors.js';
import { isTerminal, type RunState } from '../model/run-state.js';
import type { Engine } from '../control/engine.js';
import { getRun, listAttempts, listRuns, readLogLines } from '../store/runs.js';
import { requireRun } from '../control/runs.js';
import { listDeployments } from '../control/deployments.js';
import { errorBody } from './errors.js';
import { healthView } from './health.js';
import { RETRY_AFTER_SECONDS } from '../store/availability.js';
import { registerWorkerRoutes } from './worker-routes.js';
import { registerNetworkRoutes, withNetwork } from './network-routes.js';
import { registerSecretRoutes } from './secrets.js';
import { attemptView, deploymentView, jobView, logLineEvent, logLineView, runView } from './views.js';
import { withEnvHashes, withWaitingReasons } from './env-views.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { registerUi } from './ui.js';
import { listSchedules, listTicks, runBackfill, setPaused } from './schedules.js';
import { openApiDocument } from './openapi.js';
import { VERSION } from '../version.js';
import { tzdataVersion } from '../model/cron/index.js';
import { authMiddleware, listingProject, principalOf, sees } from './auth.js';
import { registerTokenRoutes } from './token-routes.js';
import { registerDeployRoutes, type UploadLimits } from './deploy-routes.js';
import { registerArtifactRoutes } from './artifact-routes.js';
import { registerAlertRoutes } from './alerts.js';
import { registerSnapshotRoutes } from './snapshot-routes.js';
import { registerPipelineRoutes } from './pipeline-routes.js';
import { ApiMetrics, registerMetricsRoute } from './metrics.js';
import { API } from './contract/index.js';
import { input } from './input.js';
import { registerPackageRoutes } from '../pypi/routes.js';
import type { ServiceRelay } from './services.js';

export interface ApiOptions {
  readonly engine: Engine;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly token?: string | null;
  /** Limits on an uploaded bundle (`POST /api/v1/deployments`); defaults from the environment. */
  readonly bundleLimits?: UploadLimits;
  /** Read-only tokens for the package index that this process hands its own worker (never stored). */
  readonly indexTokens?: readonly string[];
  /** The package index's request log (default: stderr when KAIROS_PACKAGE_LOG is set). */
  readonly indexLog?: (line: string) => void;
  /** The service relay (src/api/services.ts); without it no service is listed or reachable. */
  readonly relay?: ServiceRelay;
}

/** A schedule route's project, when the caller may see it; else the answer for a project with no such schedule. */
function visibleSchedule(c: Context, p: { project: string; job: string }, message: (project: string, job: string) => string): { project: string; job: string } {
  if (!sees(c, p.project)) throw new KairosError('not_found', message(p.project, p.job));
  return p;
}

export function createApi(opts: ApiOptions): Hono {
  const { engine } = opts;
  const db = engine.db.kysely;
  const app = new Hono();
  // Server-Timing: how long the server spent on each API call (the dashboard benchmark reads it in Chromium).
  app.use('/api/*', async (c, next) => {
    const t0 = performance.now();
    await next();
    try {
      c.res.headers.set('server-timing', `app;dur=${(performance.now() - t0).toFixed(2)}`);
    } catch {
      // a response whose headers are already sent (a stream)
    }
  });

  app.onError((err, c) => {
    const { status, body } = errorBody(err);
    if (status === 503) {
      // The database is locked, down or out of space: say when to try again; not a bug worth a stack trace.
      c.header('Retry-After', String(RETRY_AFTER_SECONDS));
    } else if (status >= 500) console.error('kairos api:', err);
    return c.json(body, status as 500);
  });
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404));

  const apiMetrics = new ApiMetrics(engine.ctx.now());
  app.use('*', apiMetrics.middleware());

  // Authentication, the scope each route needs (the table in scopes.ts), and project-limited tokens kept
  // out of other projects' runs on every /runs/{id} route. /metrics takes the same tokens.
  const auth = authMiddleware({ db: engine.db, bootstrapToken: opts.token ?? null });
  app.use('/api/*', auth);
  app.use('/metrics', auth);

  const { runs: R, schedules: S } = API;
  app.get(API.ops.health.path, async (c) => {
    await input(c, API.ops.health);
    return c.json(healthView(engine));
  });
  app.get(API.ops.openapi.path, async (c) => {
    await input(c, API.ops.openapi);
    return c.json(openApiDocument());
  });
  app.get(API.access.whoami.path, async (c) => {
    await input(c, API.access.whoami);
    return c.json(principalOf(c));
  });

  app.get(R.list.path, async (c) => {
    const { query: q } = await input(c, R.list);
    const limit = q.limit ?? 50;
    const m = q.before ? /^(\d+):([0-9a-z]+)$/.exec(q.before) : null;
    const before = m ? { createdAt: Number(m[1]), id: m[2] ?? '' } : undefined;
    const project = listingProject(c, q.project);
    if (project === false) return c.json({ runs: [], next_before: null });
    const rows = await listRuns(db, { project, job: q.job, states: q.state, trigger: q.trigger, limit, before, since: q.since, until: q.until });
    const last = rows.length === limit ? rows[rows.length - 1] : undefined;
    return c.json({ runs: await withWaitingReasons(engine.ctx, rows, await withEnvHashes(db, rows.map(runView))), next_before: last ? `${Number(last.created_at)}:${last.id}` : null });
  });

  app.post(R.create.path, async (c) => {
    const { body } = await input(c, R.create);
    const own = principalOf(c).project;
    if (own !== null && body.project !== undefined && body.project !== own) throw new KairosError('not_found', `project "${body.project}" has no active deployment`);
    const resources = { ...(body.cpu !== undefined ? { cpu: body.cpu } : {}), ...(body.memory_bytes !== undefined ? { memoryBytes: body.memory_bytes } : {}), ...(body.gpu !== undefined ? { gpu: body.gpu } : {}) };
    const run = await engine.createRun({ project: body.project ?? own ?? undefined, job: body.job, params: body.params ?? {}, trigger: 'manual', resources, ...(body.pool !== undefined ? { pool: body.pool } : {}) });
    return c.json((await withWaitingReasons(engine.ctx, [run], [runView(run)]))[0], 201);
  });

  app.get(R.get.path, async (c) => {
    const { params, query } = await input(c, R.get);
    const id = params.id;
    const waitS = query.wait ?? 0;
    let run = await requireRun(db, id);
    if (waitS > 0 && !isTerminal(run.state as RunState)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitS * 1000);
        function done() {
          clearTimeout(timer);
          engine.bus.off('run', onRun);
          resolve();
        }
        function onRun(e: { id: string; state: string }) {
          if (e.id === id && isTerminal(e.state as RunState)) done();
        }
        engine.bus.on('run', onRun);
        // The state may have changed between the read and the subscription.
        void getRun(db, id).then((r) => {
          if (r && isTerminal(r.state as RunState)) done();
        });
      });
      run = await requireRun(db, id);
    }
    const [view] = await withWaitingReasons(engine.ctx, [run], await withEnvHashes(db, [runView(run)]));
    return c.json(view ? await withNetwork(db, view) : view);
  });

  app.get(R.attempts.path, async (c) => {
    const run = await requireRun(db, (await input(c, R.attempts)).params.id);
    return c.json({ attempts: (await listAttempts(db, run.id)).map(attemptView) });
  });

  app.get(R.outputs.path, async (c) => {
    const run = await requireRun(db, (await input(c, R.outputs)).params.id);
    const metrics = await db.selectFrom('metrics').select(['attempt', 'name', 'value', 'step', 'ts']).where('run_id', '=', run.id).orderBy('id').execute();
    const artifacts = await db.selectFrom('artifacts').select(['attempt', 'path', 'size', 'sha256']).where('run_id', '=', run.id).orderBy('attempt').orderBy('path').execute();
    return c.json({
      metrics: metrics.map((m) => ({ attempt: m.attempt, name: m.name, value: m.value, step: m.step === null ? null : Number(m.step), ts: new Date(Number(m.ts)).toISOString() })),
      artifacts: artifacts.map((a) => ({ ...a, size: Number(a.size) })),
    });
  });

  app.post(R.cancel.path, async (c) => c.json(runView(await engine.cancelRun((await input(c, R.cancel)).params.id))));
  app.post(R.rerun.path, async (c) => c.json(runView(await engine.rerun((await input(c, R.rerun)).params.id)), 201));

  app.get(R.logs.path, async (c) => {
    const { params, query } = await input(c, R.logs);
    const run = await requireRun(db, params.id);
    const after = query.after ?? 0;
    const limit = query.limit ?? 5000;
    const lines = await readLogLines(db, run.id, after, limit, query.attempt);
    const last = lines[lines.length - 1];
    return c.json({ lines: lines.map(logLineView), next_after: last ? Number(last.seq) : after, state: run.state, more: lines.length === limit });
  });

  // The whole log as plain text (one line per stored line), streamed: for downloads and for checking a big
  // log byte for byte. `stream` keeps one stream only (stdout, stderr or system).
  app.get(R.logsText.path, async (c) => {
    const { params, query } = await input(c, R.logsText);
    const run = await requireRun(db, params.id);
    const only = query.stream;
    const attempt = query.attempt;
    c.header('content-type', 'text/plain; charset=utf-8');
    c.header('cache-control', 'no-store');
    return stream(c, async (s) => {
      let closed = false;
      s.onAbort(() => {
        closed = true;
      });
      for (let after = 0; !closed; ) {
        const lines = await readLogLines(db, run.id, after, 20_000, attempt);
        if (lines.length === 0) break;
        after = lines[lines.length - 1]!.seq;
        let text = '';
        for (const l of lines) if (only === undefined || l.stream === only) text += l.line + '\n';
        if (text.length > 0) await s.write(text);
      }
    });
  });

  // Live log: newline-delimited JSON. Resumes after `after` (the last seq the follower has), so a follower
  // that reconnects gets no gap and no duplicate. Ends with {"type":"end"} once the run is terminal.
  app.get(R.logsStream.path, async (c) => {
    const { params, query } = await input(c, R.logsStream);
    const run = await requireRun(db, params.id);
    let after = query.after ?? 0;
    c.header('content-type', 'application/x-ndjson; charset=utf-8');
    c.header('cache-control', 'no-store');
    return stream(c, async (s) => {
      let wake: (() => void) | null = null;
      const onEvent = (e: { runId?: string; id?: string }) => {
        if ((e.runId ?? e.id) === run.id) wake?.();
      };
      engine.bus.on('logs', onEvent);
      engine.bus.on('run', onEvent);
      let closed = false;
      s.onAbort(() => {
        closed = true;
        wake?.();
      });
      try {
        while (!closed) {
          const waiting = new Promise<void>((r) => (wake = r));
          const lines = await readLogLines(db, run.id, after, 10_000);
          if (lines.length > 0) {
            after = Number(lines[lines.length - 1]?.seq ?? after);
            await s.write(lines.map(logLineEvent).join('\n') + '\n');
            continue;
          }
          const now = await getRun(db, run.id);
          if (!now || isTerminal(now.state as RunState)) {
            // Lines are stored before the run ends, so a terminal run with nothing new is complete.
            const rest = await readLogLines(db, run.id, after, 2000);
            if (rest.length > 0) continue;
            await s.write(JSON.stringify({ type: 'end', state: now?.state ?? 'unknown', exit_code: now?.exit_code ?? null, reason: now?.reason ?? null, next_after: after }) + '\n');
            break;
          }
          await Promise.race([waiting, new Promise((r) => setTimeout(r, 1000))]);
        }
      } finally {
        engine.bus.off('logs', onEvent);
        engine.bus.off('run', onEvent);
      }
    });
  });

  app.get(S.list.path, async (c) => {
    const { query } = await input(c, S.list);
    const project = listingProject(c, query.project);
    return c.json({ schedules: project === false ? [] : await listSchedules(engine, project, query.count ?? 3) });
  });
  app.get(S.ticks.path, async (c) => {
    const { params, query } = await input(c, S.ticks);
    const { project, job } = visibleSchedule(c, params, (p, j) => `job "${j}" of project "${p}" has never had a schedule`);
    return c.json({ ticks: await listTicks(engine, project, job, { limit: query.limit ?? 100, from: query.from, to: query.to }) });
  });
  app.post(S.backfill.path, async (c) => {
    const { params, body } = await input(c, S.backfill);
    const { project, job } = visibleSchedule(c, params, (p) => `project "${p}" has no active deployment`);
    const r = await runBackfill(engine, project, job, body);
    return c.json(r, r.created.length > 0 ? 201 : 200);
  });
  const noSchedule = (p: string, j: string) => `job "${j}" of project "${p}" has no schedule`;
  for (const [spec, paused] of [
    [S.pause, true],
    [S.resume, false],
  ] as const) {
    app.post(spec.path, async (c) => {
      const { project, job } = visibleSchedule(c, (await input(c, spec)).params, noSchedule);
      return c.json(await setPaused(engine, project, job, paused));
    });
  }

  app.get(API.deployments.list.path, async (c) => {
    const { query } = await input(c, API.deployments.list);
    const project = listingProject(c, query.project);
    const rows = project === false ? [] : await listDeployments(db, project, query.limit ?? 50);
    return c.json({ deployments: rows.map(deploymentView) });
  });

  app.get(API.deployments.jobs.path, async (c) => {
    const { query } = await input(c, API.deployments.jobs);
    const deps = (await db.selectFrom('deployments').selectAll().where('active', '=', 1).orderBy('project').execute()).filter((d) => sees(c, d.project) && (!query.project || d.project === query.project));
    const jobs = [];
    for (const d of deps) {
      const m = await engine.ctx.manifestOf(d.id);
      for (const j of Object.values(m.jobs)) if (j.builtin !== true) jobs.push(jobView(d.project, d.version, j));
    }
    return c.json({ jobs });
  });

  app.get(API.services.list.path, async (c) => {
    const { query } = await input(c, API.services.list);
    const services = opts.relay?.list((p) => sees(c, p) && (query.project === undefined || query.project === p)) ?? [];
    return c.json({ services });
  });
  app.post(API.services.session.path, async (c) => {
    const { params } = await input(c, API.services.session);
    if (!opts.relay) throw new KairosError('not_found', 'this server relays no services');
    return c.json(opts.relay.createTicket(principalOf(c), params.project, params.job), 201);
  });

  registerAlertRoutes(app, engine);
  registerMetricsRoute(app, engine, apiMetrics);
  registerWorkerRoutes(app, engine);
  registerNetworkRoutes(app, engine);
  registerArtifactRoutes(app, engine);
  registerSecretRoutes(app, engine);
  registerTokenRoutes(app, engine);
  registerDeployRoutes(app, engine, opts.bundleLimits);
  registerSnapshotRoutes(app, engine);
  registerPipelineRoutes(app, engine);
  registerDashboardRoutes(app, engine, sees);
  // The team's Python package index (docs/packages.md): /simple/, /pypi/files/, /legacy/, /api/v1/packages.
  registerPackageRoutes(app, { db: engine.db, store: engine.ctx.artifactStore, bootstrapToken: opts.token ?? null, internalTokens: opts.indexTokens ?? [], ...(opts.indexLog ? { log: opts.indexLog } : {}) });
  // Last: the dashboard's files at `/`, for every GET the API did not answer.
  registerUi(app);
  return app;
}
