/** Deployments (upload, active version, rollback, diff) and the jobs of the active deployments. */
import { z } from 'zod';
import { isoTimeOrNull, name, noBody, pathName, queryInt, route } from './common.js';
import { scheduleViewSchema } from './schedules.js';

export const deploymentViewSchema = z
  .strictObject({
    id: z.string(),
    project: z.string(),
    version: z.number().int(),
    bundle_hash: z.string(),
    created_at: isoTimeOrNull,
    active: z.boolean(),
    source: z.string(),
    deployed_by: z.string().nullable(),
    git_commit: z.string().nullable(),
    git_dirty: z.boolean().nullable(),
  })
  .meta({ id: 'Deployment' });
export type DeploymentView = z.infer<typeof deploymentViewSchema>;

const paramValue = z.union([z.string(), z.number(), z.boolean()]);
/** A typed parameter as compiled (docs/manifest.md): dates are `YYYY-MM-DD` strings. */
export const paramSpecSchema = z
  .object({
    type: z.enum(['string', 'integer', 'number', 'boolean', 'date']),
    default: paramValue.optional(),
    required: z.boolean(),
    enum: z.array(paramValue).optional(),
    description: z.string().optional(),
  })
  .meta({ id: 'ParamSpec' });

/** A job of an active deployment; `schedule` and `params` are the compiled manifest's (see docs/manifest.md). */
export const jobViewSchema = z
  .strictObject({
    project: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    schedule: z.record(z.string(), z.unknown()).nullable().describe('the compiled schedule: cron, timezone, catchup, concurrency'),
    params: z.record(z.string(), paramSpecSchema).describe('parameter name → its compiled spec'),
    pool: z.string(),
    resources: z.strictObject({ cpu: z.number().nullable(), memory_bytes: z.number().nullable(), gpu: z.number().nullable() }).describe('what the job asks for (docs/manifest.md)'),
    environment: z.string().nullable().describe('the name of its environment, if any'),
    timeout_ms: z.number().int().nullable(),
    retries: z.number().int(),
    deployment_version: z.number().int(),
  })
  .meta({ id: 'Job' });
export type JobView = z.infer<typeof jobViewSchema>;

export const jobDetailSchema = z.strictObject({
  job: jobViewSchema,
  schedule: scheduleViewSchema.nullable(),
  stats: z.strictObject({ window: z.number().int(), finished: z.number().int(), succeeded: z.number().int(), success_rate: z.number().nullable() }),
  recent: z.array(
    z.strictObject({
      id: z.string(),
      state: z.string(),
      trigger: z.string(),
      attempt: z.number().int(),
      created_at: isoTimeOrNull,
      started_at: isoTimeOrNull,
      finished_at: isoTimeOrNull,
      exit_code: z.number().int().nullable(),
      duration_ms: z.number().nullable(),
    }),
  ),
});
export type JobDetailView = z.infer<typeof jobDetailSchema>;

export const jobMetricsSchema = z.strictObject({
  series: z.array(
    z.strictObject({
      name: z.string(),
      points: z.array(
        z.strictObject({
          run_id: z.string(),
          created_at: isoTimeOrNull,
          scheduled_for: isoTimeOrNull.describe("the run's logical time: where the point is drawn"),
          state: z.string().nullable(),
          trigger: z.string(),
          params: z.record(z.string(), z.unknown()),
          value: z.number(),
        }),
      ),
    }),
  ),
  thresholds: z.array(z.strictObject({ metric: z.string(), rule: z.string(), above: z.number().nullable(), below: z.number().nullable() })).describe("the job's notify metric rules"),
  window: z.strictObject({ from: isoTimeOrNull, to: isoTimeOrNull, limit: z.number().int(), runs: z.number().int(), truncated: z.boolean() }),
});
export type JobMetricsView = z.infer<typeof jobMetricsSchema>;

export const deploymentDiffSchema = z.strictObject({
  id: z.string(),
  project: z.string(),
  version: z.number().int(),
  previous: z.strictObject({ id: z.string(), version: z.number().int() }).nullable(),
  jobs: z.strictObject({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.strictObject({ job: z.string(), fields: z.array(z.string()) })) }),
  files: z.strictObject({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()), available: z.boolean() }),
});
export type DeploymentDiffView = z.infer<typeof deploymentDiffSchema>;

const projectJob = z.strictObject({ project: pathName, job: pathName });
const created = deploymentViewSchema.extend({ created: z.boolean() });

export const deploymentRoutes = {
  list: route({
    method: 'get',
    path: '/api/v1/deployments',
    summary: 'Deployments, newest first: version, bundle_hash, deployed_by, created_at, git_commit, git_dirty, active',
    query: z.strictObject({ project: name.optional(), limit: queryInt(1, 1000).optional() }),
    responses: { 200: { description: 'deployments', schema: z.strictObject({ deployments: z.array(deploymentViewSchema) }) } },
  }),
  upload: route({
    method: 'post',
    path: '/api/v1/deployments',
    summary: 'Deploy: the body is a bundle stream; checked whole, its kairos.yaml compiled, then activated as a new version',
    query: z.strictObject({
      hash: z.string().regex(/^[0-9a-f]{64}$/, "must be the bundle's SHA-256 (64 hex digits)").describe("the bundle's SHA-256"),
      commit: z.string().regex(/^[0-9a-f]{7,64}$/, 'must be a git commit id (hex)').optional().describe('git commit of the deployed checkout'),
      dirty: z.enum(['0', '1', 'true', 'false']).optional().describe('1 when the checkout had uncommitted changes'),
      source: z.string().max(300).optional(),
    }),
    rawBody: { contentType: 'application/x-kairos-bundle', description: 'per entry a JSON header line {path, kind, mode, size, sha256, target?}, then the bytes' },
    responses: {
      201: { description: 'activated as a new version', schema: created },
      200: { description: 'the active version already has these files and manifest', schema: created },
    },
    errors: { 400: 'invalid_input, or invalid_bundle (details.reason: unsafe_path, link_outside, too_many_files, too_large, corrupt, hash_mismatch, truncated, bad_entry)', 422: 'invalid_manifest (details.errors: FILE:LINE:COL lines)' },
  }),
  active: route({
    method: 'get',
    path: '/api/v1/deployments/:project/active',
    summary: "A project's active version with its compiled manifest (what `kairos deploy --plan` compares with)",
    params: z.strictObject({ project: pathName }),
    query: z.strictObject({}),
    responses: { 200: { description: 'the deployment and its manifest', schema: deploymentViewSchema.extend({ manifest: z.record(z.string(), z.unknown()).describe('the compiled manifest') }) } },
  }),
  activate: route({
    method: 'post',
    path: '/api/v1/deployments/:project/:version/activate',
    summary: 'Make an earlier version active again (rollback); schedules follow its manifest',
    params: z.strictObject({
      project: pathName,
      version: z
        .string()
        .regex(/^v?\d{1,9}$/, 'must be a positive integer such as 3 (or v3)')
        .transform((v) => Number(v.replace(/^v/, '')))
        .pipe(z.number().int().min(1, 'must be a positive integer such as 3 (or v3)')),
    }),
    body: noBody,
    responses: { 200: { description: 'the deployment', schema: deploymentViewSchema } },
  }),
  diff: route({
    method: 'get',
    path: '/api/v1/deployments/:id/diff',
    summary: 'What a deployment changed against the version before it: jobs added, removed, changed (which fields); files added, removed, changed',
    params: z.strictObject({ id: pathName.describe('deployment id') }),
    query: z.strictObject({}),
    responses: { 200: { description: 'the changes', schema: deploymentDiffSchema } },
  }),
  jobs: route({
    method: 'get',
    path: '/api/v1/jobs',
    summary: 'Jobs of the active deployments (of one project when given), with params, pool, resources and environment',
    query: z.strictObject({ project: name.optional() }),
    responses: { 200: { description: 'jobs', schema: z.strictObject({ jobs: z.array(jobViewSchema) }) } },
  }),
  job: route({
    method: 'get',
    path: '/api/v1/jobs/:project/:job',
    summary: 'One job: its definition, its schedule in words with the next fire times, its success rate and newest runs',
    params: projectJob,
    query: z.strictObject({ recent: queryInt(1, 1000).optional(), count: queryInt(0, 50).optional() }),
    responses: { 200: { description: 'the job', schema: jobDetailSchema } },
  }),
  jobMetrics: route({
    method: 'get',
    path: '/api/v1/jobs/:project/:job/metrics',
    summary: "Each metric the job reports, one point per run (the run's last value) at the run's logical time, oldest first; with the thresholds of the job's notify metric rules",
    params: projectJob,
    query: z.strictObject({
      runs: queryInt(1, 1000).optional().describe('how many runs, the newest by logical time (default 100)'),
      from: z.string().max(40).optional().describe('logical time from (ISO-8601 instant or date, inclusive)'),
      to: z.string().max(40).optional().describe('logical time to (ISO-8601 instant or date, inclusive)'),
      trigger: z.string().max(200).optional().describe('only runs with these triggers, comma-separated'),
    }),
    responses: { 200: { description: 'series', schema: jobMetricsSchema } },
  }),
} as const;
