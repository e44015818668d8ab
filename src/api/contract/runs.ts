/** Runs, their attempts, outputs and logs: requests and answers. */
import { z } from 'zod';
import { REASON_CODE_LIST, type ReasonCode } from '../../model/reasons.js';
import { RUN_STATE_LIST, type RunState } from '../../model/run-state.js';
import { LOG_STREAMS, endpointCheckSchema } from '../../protocol/worker.js';
import { LIMITS, isoTime, isoTimeOrNull, instant, name, noBody, pathName, queryInt, route } from './common.js';

export const runStateSchema = z.enum(RUN_STATE_LIST as [RunState, ...RunState[]]);

export const runViewSchema = z
  .strictObject({
    id: z.string(),
    project: z.string(),
    job: z.string(),
    state: runStateSchema,
    attempt: z.number().int(),
    trigger: z.string().describe('schedule, manual, backfill or rerun'),
    scheduled_for: isoTimeOrNull,
    created_at: isoTimeOrNull,
    started_at: isoTimeOrNull,
    finished_at: isoTimeOrNull,
    exit_code: z.number().int().nullable(),
    reason: z.string().nullable(),
    reason_code: z.enum(REASON_CODE_LIST as [ReasonCode, ...ReasonCode[]]).nullable().describe('why it ended, as a stable code (docs/runs.md)'),
    params: z.record(z.string(), z.unknown()),
    pool: z.string(),
    deployment_id: z.string(),
    bundle_hash: z.string(),
    rerun_of: z.string().nullable(),
    cancel_requested: z.boolean(),
    /** The environment's content hash recorded by the latest attempt that ran in one (null: none). */
    env_hash: z.string().nullable().optional(),
    /** The network preflight of the latest attempt (docs/network.md); null: its job needs no endpoint, or not checked yet. */
    network: z.array(endpointCheckSchema).nullable().optional(),
    /** Resources given for this run alone (`kairos run --cpu/--memory/--gpu`); null: the job's. */
    resources: z.strictObject({ cpu: z.number().optional(), memory_bytes: z.number().int().optional(), gpu: z.number().int().optional() }).nullable().optional(),
    /** Why the run waits: a queued run no live worker of its pool can take (docs/places.md), or a running run whose worker waits for its network needs (`network.on_failure: wait`, docs/network.md). */
    waiting_reason: z.string().nullable().optional(),
  })
  .meta({ id: 'Run' });
export type RunView = z.infer<typeof runViewSchema>;

export const attemptViewSchema = z
  .strictObject({
    number: z.number().int(),
    state: z.string().describe('running, succeeded, failed, timed_out, cancelled or lost'),
    worker_id: z.string().nullable(),
    claimed_at: isoTimeOrNull,
    started_at: isoTimeOrNull,
    finished_at: isoTimeOrNull,
    exit_code: z.number().int().nullable(),
    reason: z.string().nullable(),
    reason_code: z.enum(REASON_CODE_LIST as [ReasonCode, ...ReasonCode[]]).nullable().describe('why it ended, as a stable code (docs/runs.md)'),
    pid: z.number().int().nullable(),
    env_hash: z.string().nullable(),
    env_packages: z.array(z.strictObject({ name: z.string(), version: z.string() })).nullable(),
    /** The container image the attempt ran (docs/containers.md): a reference any machine can pull, and its digest; null: not an image. */
    env_image: z.strictObject({ ref: z.string(), digest: z.string() }).nullable().optional(),
    /** The network preflight's checks (docs/network.md); null: none. */
    network: z.array(endpointCheckSchema).nullable().optional(),
    /** While the attempt waits for the network (`on_failure: wait`): what for. */
    network_waiting: z.string().nullable().optional(),
    service_up_at: z.string().nullable().optional().describe('a service job: when this attempt first answered its health check'),
  })
  .meta({ id: 'Attempt' });
export type AttemptView = z.infer<typeof attemptViewSchema>;

export const logLineViewSchema = z
  .strictObject({ seq: z.number().int(), attempt: z.number().int(), ts: isoTime, stream: z.enum(LOG_STREAMS), line: z.string() })
  .meta({ id: 'LogLine' });
export type LogLineView = z.infer<typeof logLineViewSchema>;

/** One event of the live log (`/logs/stream`, newline-delimited JSON). */
export const streamEventSchema = z.discriminatedUnion('type', [
  logLineViewSchema.extend({ type: z.literal('line') }),
  z.strictObject({ type: z.literal('end'), state: z.string(), exit_code: z.number().int().nullable(), reason: z.string().nullable(), next_after: z.number().int() }),
]);
export type StreamEvent = z.infer<typeof streamEventSchema>;

export const outputsSchema = z.strictObject({
  metrics: z.array(z.strictObject({ attempt: z.number().int(), name: z.string(), value: z.number(), step: z.number().int().nullable(), ts: isoTime })),
  artifacts: z.array(z.strictObject({ attempt: z.number().int(), path: z.string(), size: z.number().int(), sha256: z.string() })),
});
export type OutputsView = z.infer<typeof outputsSchema>;

const runId = z.strictObject({ id: pathName.describe('run id') });
const stateList = z
  .string()
  .max(LIMITS.list)
  .refine((s) => s.split(',').every((x) => (RUN_STATE_LIST as readonly string[]).includes(x)), `must be states separated by commas; states: ${RUN_STATE_LIST.join(', ')}`)
  .transform((s) => s.split(',') as RunState[]);
const attemptNo = queryInt(1, 1000);

export const runRoutes = {
  list: route({
    method: 'get',
    path: '/api/v1/runs',
    summary: 'Run history, newest first (created in [since, until) when given); next_before is the cursor of the next page',
    query: z.strictObject({
      project: name.optional(),
      job: name.optional(),
      state: stateList.optional(),
      trigger: name.optional(),
      limit: queryInt(1, 1000).optional(),
      before: z.string().max(100).regex(/^(\d+):([0-9a-z]+)$/, 'must be a cursor returned as "next_before"').optional(),
      since: instant().optional(),
      until: instant().optional(),
    }),
    responses: { 200: { description: 'runs', schema: z.strictObject({ runs: z.array(runViewSchema), next_before: z.string().nullable() }) } },
  }),
  create: route({
    method: 'post',
    path: '/api/v1/runs',
    summary: 'Start an ad-hoc run; parameters are validated before the run exists',
    body: z.strictObject({
      job: name.describe('a job name'),
      project: name.optional(),
      params: z
        .record(z.string().max(LIMITS.name), z.unknown())
        .refine((p) => Object.keys(p).length <= 1000, 'must have at most 1000 parameters')
        .optional()
        .describe('parameter values; checked against the job’s parameters (422 invalid_params)'),
      cpu: z.number().positive().max(100_000).optional().describe('CPU cores for this run alone, over the job’s resources'),
      memory_bytes: z.number().int().positive().max(2 ** 52).optional().describe('memory in bytes for this run alone'),
      gpu: z.number().int().min(0).max(10_000).optional().describe('GPUs for this run alone'),
      pool: name.optional().describe('pool for this run alone, over the job’s'),
    }),
    responses: { 201: { description: 'created', schema: runViewSchema } },
    errors: { 404: 'no such project or job', 422: 'invalid_params: a value does not fit its parameter' },
  }),
  get: route({
    method: 'get',
    path: '/api/v1/runs/:id',
    summary: 'One run; with ?wait=SECONDS, answers when it is terminal (or after the wait)',
    params: runId,
    query: z.strictObject({ wait: queryInt(0, 300).optional() }),
    responses: { 200: { description: 'run', schema: runViewSchema } },
  }),
  attempts: route({
    method: 'get',
    path: '/api/v1/runs/:id/attempts',
    summary: "A run's attempts, each with the environment it ran in",
    params: runId,
    query: z.strictObject({}),
    responses: { 200: { description: 'attempts', schema: z.strictObject({ attempts: z.array(attemptViewSchema) }) } },
  }),
  outputs: route({
    method: 'get',
    path: '/api/v1/runs/:id/outputs',
    summary: "A run's metrics and artifacts",
    params: runId,
    query: z.strictObject({}),
    responses: { 200: { description: 'outputs', schema: outputsSchema } },
  }),
  cancel: route({
    method: 'post',
    path: '/api/v1/runs/:id/cancel',
    summary: 'Cancel a run (idempotent)',
    params: runId,
    body: noBody,
    responses: { 200: { description: 'run', schema: runViewSchema } },
  }),
  rerun: route({
    method: 'post',
    path: '/api/v1/runs/:id/rerun',
    summary: 'Repeat a run with the same deployment, parameters and logical time',
    params: runId,
    body: noBody,
    responses: { 201: { description: 'the new run', schema: runViewSchema } },
  }),
  logs: route({
    method: 'get',
    path: '/api/v1/runs/:id/logs',
    summary: "A page of a run's log after sequence number `after`",
    params: runId,
    query: z.strictObject({ after: queryInt(0, Number.MAX_SAFE_INTEGER).optional(), limit: queryInt(1, 50_000).optional(), attempt: attemptNo.optional() }),
    responses: { 200: { description: 'lines', schema: z.strictObject({ lines: z.array(logLineViewSchema), next_after: z.number().int(), state: runStateSchema, more: z.boolean() }) } },
  }),
  logsText: route({
    method: 'get',
    path: '/api/v1/runs/:id/logs/text',
    summary: 'The whole log as plain text, one stored line per line, streamed; `stream` keeps one of stdout, stderr, system',
    params: runId,
    query: z.strictObject({ stream: z.enum(LOG_STREAMS).optional(), attempt: attemptNo.optional() }),
    responses: { 200: { description: 'text', contentType: 'text/plain' } },
  }),
  logsStream: route({
    method: 'get',
    path: '/api/v1/runs/:id/logs/stream',
    summary: 'The live log as newline-delimited JSON: {"type":"line",...} objects, then {"type":"end","state","exit_code","reason","next_after"}',
    params: runId,
    query: z.strictObject({ after: queryInt(0, Number.MAX_SAFE_INTEGER).optional() }),
    responses: { 200: { description: 'one event per line', contentType: 'application/x-ndjson', schema: streamEventSchema } },
  }),
} as const;

