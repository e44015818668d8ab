/**
 * Pipelines and pipeline runs over HTTP (docs/pipelines.md; contract: src/api/contract/pipelines.ts).
 * Project-limited tokens see and start their own project's only.
 */
import type { Context, Hono } from 'hono';
import type { Engine } from '../control/engine.js';
import { backfillPipeline } from '../control/backfill.js';
import { listPipelineRuns, listPipelines, pipelineRunDetail, pipelineRunView, requirePipelineRun } from '../control/pipelines.js';
import { KairosError } from '../model/errors.js';
import { listingProject, sees } from './auth.js';
import { API } from './contract/index.js';
import { input } from './input.js';

export function registerPipelineRoutes(app: Hono, engine: Engine): void {
  const P = API.pipelines;
  const db = engine.db.kysely;
  const visibleRun = async (c: Context, id: string) => {
    const pr = await requirePipelineRun(db, id);
    if (!sees(c, pr.project)) throw new KairosError('not_found', `pipeline run ${id} not found`);
    return pr;
  };
  const visibleProject = (c: Context, project: string) => {
    if (!sees(c, project)) throw new KairosError('not_found', `project "${project}" has no active deployment`);
  };

  app.get(P.list.path, async (c) => {
    const { query } = await input(c, P.list);
    const project = listingProject(c, query.project);
    if (project === false) return c.json({ pipelines: [] });
    return c.json({ pipelines: await listPipelines(engine.ctx, project) });
  });

  app.post(P.start.path, async (c) => {
    const { params, body } = await input(c, P.start);
    visibleProject(c, params.project);
    const pr = await engine.createPipelineRun({ project: params.project, pipeline: params.pipeline, params: body.params ?? {}, trigger: 'manual' });
    return c.json(await pipelineRunDetail(engine.ctx, pr.id), 201);
  });

  app.post(P.backfill.path, async (c) => {
    const { params, body } = await input(c, P.backfill);
    visibleProject(c, params.project);
    const r = await backfillPipeline(engine.ctx, { project: params.project, pipeline: params.pipeline, from: body.from, to: body.to, dryRun: body.dry_run === true });
    const view = { project: r.project, pipeline: r.pipeline, timezone: r.timezone, dry_run: body.dry_run === true, ticks: r.ticks.length, existing: r.existing, planned: r.planned.map((t) => new Date(t).toISOString()), created: r.created.map(pipelineRunView) };
    return c.json(view, r.created.length > 0 ? 201 : 200);
  });

  app.get(P.runs.path, async (c) => {
    const { query } = await input(c, P.runs);
    const project = listingProject(c, query.project);
    if (project === false) return c.json({ pipeline_runs: [] });
    const rows = await listPipelineRuns(db, { ...(project ? { project } : {}), ...(query.pipeline ? { pipeline: query.pipeline } : {}), ...(query.state ? { state: query.state } : {}), limit: query.limit ?? 50 });
    return c.json({ pipeline_runs: rows.map(pipelineRunView) });
  });

  app.get(P.get.path, async (c) => {
    const { params } = await input(c, P.get);
    await visibleRun(c, params.id);
    return c.json(await pipelineRunDetail(engine.ctx, params.id));
  });

  app.post(P.cancel.path, async (c) => {
    const { params } = await input(c, P.cancel);
    await visibleRun(c, params.id);
    await engine.cancelPipelineRun(params.id);
    return c.json(await pipelineRunDetail(engine.ctx, params.id));
  });

  app.post(P.rerun.path, async (c) => {
    const { params, body } = await input(c, P.rerun);
    await visibleRun(c, params.id);
    if (body.from_failed !== true) throw new KairosError('invalid_input', 'a pipeline run is rerun from its failures: send {"from_failed": true} (kairos rerun PIPELINE_RUN --from-failed)');
    const pr = await engine.rerunPipelineFromFailed(params.id);
    return c.json(await pipelineRunDetail(engine.ctx, pr.id), 201);
  });
}
