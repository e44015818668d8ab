/** Pipelines and pipeline runs (docs/pipelines.md): requests and answers. */
import { z } from 'zod';
import { instant, isoTime, isoTimeOrNull, name, noBody, pathName, queryInt, route } from './common.js';

const stepDef = z.strictObject({ name: z.string(), job: z.string(), needs: z.array(z.string()), map: z.string().nullable() });

export const pipelineViewSchema = z
  .strictObject({
    project: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    steps: z.array(stepDef),
    params: z.record(z.string(), z.unknown()),
    schedule: z.strictObject({ cron: z.string(), timezone: z.string(), paused: z.boolean(), next_fire_at: isoTimeOrNull }).nullable(),
    max_parallel: z.number().int(),
    last_run: z.strictObject({ id: z.string(), state: z.string(), created_at: isoTime }).nullable(),
  })
  .meta({ id: 'Pipeline' });

export const pipelineRunViewSchema = z
  .strictObject({
    id: z.string(),
    project: z.string(),
    pipeline: z.string(),
    state: z.string().describe('running, succeeded, failed, cancelled'),
    trigger: z.string(),
    params: z.record(z.string(), z.unknown()),
    scheduled_for: isoTime.describe('the logical time every step run gets'),
    rerun_of: z.string().nullable(),
    cancel_requested: z.boolean(),
    created_at: isoTime,
    finished_at: isoTimeOrNull,
    reason: z.string().nullable(),
  })
  .meta({ id: 'PipelineRun' });

export const pipelineStepViewSchema = z
  .strictObject({
    step: z.string(),
    job: z.string(),
    needs: z.array(z.string()),
    map: z.string().nullable(),
    state: z.string().describe('pending, queued, running, succeeded, failed, skipped, cancelled'),
    total: z.number().int().describe('items of a mapped step (1 otherwise)'),
    counts: z.record(z.string(), z.number().int()).describe('step runs by run state'),
    runs: z.array(z.strictObject({ run_id: z.string(), item: z.number().int(), item_value: z.string().nullable(), state: z.string() })).describe('the step runs (the first 200 items)'),
  })
  .meta({ id: 'PipelineStep' });

export const pipelineRunDetailSchema = pipelineRunViewSchema.extend({ steps: z.array(pipelineStepViewSchema) }).meta({ id: 'PipelineRunDetail' });

const projectPipeline = z.strictObject({ project: pathName, pipeline: pathName });
const idParam = z.strictObject({ id: pathName });

export const pipelineRoutes = {
  list: route({
    method: 'get',
    path: '/api/v1/pipelines',
    summary: 'Pipelines of the active deployments: steps, params, schedule with its next fire time, last run',
    query: z.strictObject({ project: name.optional() }),
    responses: { 200: { description: 'pipelines', schema: z.strictObject({ pipelines: z.array(pipelineViewSchema) }) } },
  }),
  start: route({
    method: 'post',
    path: '/api/v1/pipelines/:project/:pipeline/runs',
    summary: 'Start a pipeline run (trigger manual); its steps are created as their needs succeed',
    params: projectPipeline,
    body: z.strictObject({ params: z.record(z.string(), z.unknown()).optional() }),
    responses: { 201: { description: 'the pipeline run', schema: pipelineRunDetailSchema } },
    errors: { 422: 'invalid_params: a param is missing or does not fit its type' },
  }),
  backfill: route({
    method: 'post',
    path: '/api/v1/pipelines/:project/:pipeline/backfill',
    summary: "One pipeline run for each tick of the pipeline's schedule in [from, to], each with its tick as logical time; ticks that already have one are left alone",
    params: projectPipeline,
    body: z.strictObject({ from: instant(), to: instant(), dry_run: z.boolean().optional() }),
    responses: {
      201: { description: 'pipeline runs created', schema: z.strictObject({ project: z.string(), pipeline: z.string(), timezone: z.string(), dry_run: z.boolean(), ticks: z.number().int(), existing: z.number().int(), planned: z.array(isoTime), created: z.array(pipelineRunViewSchema) }) },
      200: { description: 'nothing created', schema: z.strictObject({ project: z.string(), pipeline: z.string(), timezone: z.string(), dry_run: z.boolean(), ticks: z.number().int(), existing: z.number().int(), planned: z.array(isoTime), created: z.array(pipelineRunViewSchema) }) },
    },
  }),
  runs: route({
    method: 'get',
    path: '/api/v1/pipeline-runs',
    summary: 'Pipeline runs, newest first',
    query: z.strictObject({ project: name.optional(), pipeline: name.optional(), state: name.optional(), limit: queryInt(1, 1000).optional() }),
    responses: { 200: { description: 'pipeline runs', schema: z.strictObject({ pipeline_runs: z.array(pipelineRunViewSchema) }) } },
  }),
  get: route({
    method: 'get',
    path: '/api/v1/pipeline-runs/:id',
    summary: 'A pipeline run with its steps: state, item counts of a fan-out, and the step runs',
    params: idParam,
    responses: { 200: { description: 'the pipeline run', schema: pipelineRunDetailSchema } },
  }),
  cancel: route({
    method: 'post',
    path: '/api/v1/pipeline-runs/:id/cancel',
    summary: 'Cancel a pipeline run: no step starts any more, every live step run is cancelled',
    params: idParam,
    body: noBody,
    responses: { 200: { description: 'the pipeline run', schema: pipelineRunDetailSchema } },
  }),
  rerun: route({
    method: 'post',
    path: '/api/v1/pipeline-runs/:id/rerun',
    summary: 'A new pipeline run linked to this one, with the same logical time and params; from_failed: the steps that succeeded are kept, only the failed and skipped ones run again',
    params: idParam,
    body: z.strictObject({ from_failed: z.boolean().optional() }),
    responses: { 201: { description: 'the new pipeline run', schema: pipelineRunDetailSchema } },
    errors: { 409: 'conflict: the pipeline run is still running, or succeeded (nothing to run again)' },
  }),
} as const;
