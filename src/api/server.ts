/**
 * The HTTP API under /api/v1. Handlers are thin: parse the request, call the engine, shape the answer.
 */
import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import { stream } from 'hono/streaming';
import { KairosError } from '../model/errors.js';
import { isRunState, isTerminal, type RunState } from '../model/run-state.js';
import type { Engine } from '../control/engine.js';
import { getRun, listAttempts, listRuns, readLogLines } from '../store/runs.js';
import { requireRun } from '../control/runs.js';
import { listDeployments } from '../control/deployments.js';
import { errorBody } from './errors.js';
import { registerWorkerRoutes } from './worker-routes.js';
import { registerSecretRoutes } from './secrets.js';
import { attemptView, deploymentView, logLineEvent, logLineView, runView } from './views.js';
import { withEnvHashes } from './env-views.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { registerUi } from './ui.js';
import { listSchedules, listTicks, runBackfill, setPaused } from './schedules.js';
import { parseInstant } from '../model/instant.js';
import { openApiDocument } from './openapi.js';
import { VERSION } from '../version.js';
import { tzdataVersion } from '../model/cron/index.js';
import { authMiddleware, listingProject, principalOf, sees } from './auth.js';
import { registerTokenRoutes } from './token-routes.js';
import { registerDeployRoutes, type UploadLimits } from './deploy-routes.js';
import { registerAlertRoutes } from './alerts.js';
import { ApiMetrics, registerMetricsRoute } from './metrics.js';

export interface ApiOptions {
  readonly engine: Engine;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly token?: string | null;
  /** Limits on an uploaded bundle (`POST /api/v1/deployments`); defaults from the environment. */
  readonly bundleLimits?: UploadLimits;
}

function intParam(c: Context, name: string, dflt: number, min: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new KairosError('invalid_input', `query parameter "${name}" must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

function instantParam(c: Context, name: string): number | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return undefined;
  const t = parseInstant(raw);
  if (t === null) throw new KairosError('invalid_input', `query parameter "${name}" must be an ISO-8601 instant such as 2026-01-01T00:00:00Z, got "${raw}"`);
  return t;
}

const MAX_BODY_BYTES = 1024 * 1024;

/** Reads the body straight from Node's request: cheaper than building a Web Request stream for it. */
async function bodyText(c: Context): Promise<string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming) return c.req.text();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new KairosError('invalid_input', `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function jsonBody(c: Context): Promise<Record<string, unknown>> {
  const text = await bodyText(c);
  if (text.trim() === '') return {};
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new KairosError('invalid_input', 'the request body must be a JSON object');
  }
}

/** A schedule route's project, when the caller may see it; else the answer for a project with no such schedule. */
function visibleSchedule(c: Context, message: (project: string, job: string) => string): { project: string; job: string } {
  const project = c.req.param('project') ?? '';
  const job = c.req.param('job') ?? '';
  if (!sees(c, project)) throw new KairosError('not_found', message(project, job));
  return { project, job };
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
    if (status >= 500) console.error('kairos api:', err);
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

  app.get('/api/v1/health', (c) => c.json({ ok: true, version: VERSION, tzdata: tzdataVersion(), dialect: engine.db.dialect, lease_ms: engine.ctx.settings.leaseMs }));
  app.get('/api/v1/openapi.json', (c) => c.json(openApiDocument()));
  app.get('/api/v1/whoami', (c) => c.json(principalOf(c)));

  app.get('/api/v1/runs', async (c) => {
    const limit = intParam(c, 'limit', 50, 1, 1000);
    const stateParam = c.req.query('state');
    const states = stateParam?.split(',').map((s) => {
      if (!isRunState(s)) throw new KairosError('invalid_input', `unknown state "${s}"; states: queued, running, succeeded, failed, timed_out, cancelled, skipped`);
      return s;
    });
    const beforeRaw = c.req.query('before');
    let before: { createdAt: number; id: string } | undefined;
    if (beforeRaw) {
      const m = /^(\d+):([0-9a-z]+)$/.exec(beforeRaw);
      if (!m) throw new KairosError('invalid_input', 'query parameter "before" must be a cursor returned as "next_before"');
      before = { createdAt: Number(m[1]), id: m[2] ?? '' };
    }
    const project = listingProject(c, c.req.query('project'));
    if (project === false) return c.json({ runs: [], next_before: null });
    const since = instantParam(c, 'since');
    const until = instantParam(c, 'until');
    const rows = await listRuns(db, { project, job: c.req.query('job'), states, trigger: c.req.query('trigger'), limit, before, since, until });
    const last = rows.length === limit ? rows[rows.length - 1] : undefined;
    return c.json({ runs: await withEnvHashes(db, rows.map(runView)), next_before: last ? `${Number(last.created_at)}:${last.id}` : null });
  });

  app.post('/api/v1/runs', async (c) => {
    const body = await jsonBody(c);
    if (typeof body.job !== 'string' || body.job === '') throw new KairosError('invalid_input', 'field "job" (a job name) is required');
    if (body.project !== undefined && typeof body.project !== 'string') throw new KairosError('invalid_input', 'field "project" must be a string');
    if (body.params !== undefined && (typeof body.params !== 'object' || body.params === null || Array.isArray(body.params))) {
      throw new KairosError('invalid_input', 'field "params" must be an object of parameter values');
    }
    const own = principalOf(c).project;
    if (own !== null && body.project !== undefined && body.project !== own) throw new KairosError('not_found', `project "${body.project}" has no active deployment`);
    const run = await engine.createRun({ project: (body.project as string | undefined) ?? own ?? undefined, job: body.job, params: (body.params ?? {}) as Record<string, unknown>, trigger: 'manual' });
    return c.json(runView(run), 201);
  });

  app.get('/api/v1/runs/:id', async (c) => {
    const id = c.req.param('id');
    const waitS = intParam(c, 'wait', 0, 0, 300);
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
    return c.json((await withEnvHashes(db, [runView(run)]))[0]);
  });

  app.get('/api/v1/runs/:id/attempts', async (c) => {
    const run = await requireRun(db, c.req.param('id'));
    return c.json({ attempts: (await listAttempts(db, run.id)).map(attemptView) });
  });

  app.get('/api/v1/runs/:id/outputs', async (c) => {
    const run = await requireRun(db, c.req.param('id'));
    const metrics = await db.selectFrom('metrics').select(['attempt', 'name', 'value', 'step', 'ts']).where('run_id', '=', run.id).orderBy('id').execute();
    const artifacts = await db.selectFrom('artifacts').select(['attempt', 'path', 'size', 'sha256']).where('run_id', '=', run.id).orderBy('attempt').orderBy('path').execute();
    return c.json({
      metrics: metrics.map((m) => ({ attempt: m.attempt, name: m.name, value: m.value, step: m.step === null ? null : Number(m.step), ts: new Date(Number(m.ts)).toISOString() })),
      artifacts: artifacts.map((a) => ({ ...a, size: Number(a.size) })),
    });
  });

  app.post('/api/v1/runs/:id/cancel', async (c) => c.json(runView(await engine.cancelRun(c.req.param('id')))));
  app.post('/api/v1/runs/:id/rerun', async (c) => c.json(runView(await engine.rerun(c.req.param('id'))), 201));

  app.get('/api/v1/runs/:id/logs', async (c) => {
    const run = await requireRun(db, c.req.param('id'));
    const after = intParam(c, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(c, 'limit', 5000, 1, 50000);
    const attemptQ = c.req.query('attempt');
    const attempt = attemptQ ? intParam(c, 'attempt', 1, 1, 1000) : undefined;
    const lines = await readLogLines(db, run.id, after, limit, attempt);
    const last = lines[lines.length - 1];
    return c.json({ lines: lines.map(logLineView), next_after: last ? Number(last.seq) : after, state: run.state, more: lines.length === limit });
  });

  // The whole log as plain text (one line per stored line), streamed: for downloads and for checking a big
  // log byte for byte. `stream` keeps one stream only (stdout, stderr or system).
  app.get('/api/v1/runs/:id/logs/text', async (c) => {
    const run = await requireRun(db, c.req.param('id'));
    const only = c.req.query('stream');
    if (only !== undefined && only !== 'stdout' && only !== 'stderr' && only !== 'system') {
      throw new KairosError('invalid_input', `query parameter "stream" must be stdout, stderr or system, got "${only}"`);
    }
    const attemptQ = c.req.query('attempt');
    const attempt = attemptQ ? intParam(c, 'attempt', 1, 1, 1000) : undefined;
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
  app.get('/api/v1/runs/:id/logs/stream', async (c) => {
    const run = await requireRun(db, c.req.param('id'));
    let after = intParam(c, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
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

  app.get('/api/v1/schedules', async (c) => {
    const project = listingProject(c, c.req.query('project'));
    return c.json({ schedules: project === false ? [] : await listSchedules(engine, project, intParam(c, 'count', 3, 0, 50)) });
  });
  app.get('/api/v1/schedules/:project/:job/ticks', async (c) =>
    c.json({ ticks: await listTicks(engine, visibleSchedule(c, (p, j) => `job "${j}" of project "${p}" has never had a schedule`).project, c.req.param('job'), { limit: intParam(c, 'limit', 100, 1, 5000), from: instantParam(c, 'from'), to: instantParam(c, 'to') }) }),
  );
  app.post('/api/v1/schedules/:project/:job/backfill', async (c) => {
    const r = await runBackfill(engine, visibleSchedule(c, (p) => `project "${p}" has no active deployment`).project, c.req.param('job'), await jsonBody(c));
    return c.json(r, r.created.length > 0 ? 201 : 200);
  });
  const noSchedule = (p: string, j: string) => `job "${j}" of project "${p}" has no schedule`;
  app.post('/api/v1/schedules/:project/:job/pause', async (c) => c.json(await setPaused(engine, visibleSchedule(c, noSchedule).project, c.req.param('job'), true)));
  app.post('/api/v1/schedules/:project/:job/resume', async (c) => c.json(await setPaused(engine, visibleSchedule(c, noSchedule).project, c.req.param('job'), false)));

  app.get('/api/v1/deployments', async (c) => {
    const project = listingProject(c, c.req.query('project'));
    const rows = project === false ? [] : await listDeployments(db, project, intParam(c, 'limit', 50, 1, 1000));
    return c.json({ deployments: rows.map(deploymentView) });
  });

  app.get('/api/v1/jobs', async (c) => {
    const deps = (await db.selectFrom('deployments').selectAll().where('active', '=', 1).orderBy('project').execute()).filter((d) => sees(c, d.project));
    const jobs = [];
    for (const d of deps) {
      const m = await engine.ctx.manifestOf(d.id);
      for (const j of Object.values(m.jobs)) {
        jobs.push({ project: d.project, name: j.name, description: j.description, schedule: j.schedule, params: j.params, pool: j.pool, timeout_ms: j.timeoutMs, retries: j.retries.max, deployment_version: d.version });
      }
    }
    return c.json({ jobs });
  });

  registerAlertRoutes(app, engine, intParam);
  registerMetricsRoute(app, engine, apiMetrics);
  registerWorkerRoutes(app, engine, jsonBody);
  registerSecretRoutes(app, engine, jsonBody);
  registerTokenRoutes(app, engine, jsonBody);
  registerDeployRoutes(app, engine, opts.bundleLimits);
  registerDashboardRoutes(app, engine, intParam, sees);
  // Last: the dashboard's files at `/`, for every GET the API did not answer.
  registerUi(app);
  return app;
}
