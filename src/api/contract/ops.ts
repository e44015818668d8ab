/** Operating the server: health, this document, Prometheus metrics, alerts and the workers. */
import { z } from 'zod';
import { ALERT_KINDS, ALERT_STATE_LIST, type AlertState } from '../../model/alerts.js';
import { isoTimeOrNull, LIMITS, name, queryInt, route } from './common.js';

export const healthSchema = z.strictObject({
  ok: z.literal(true),
  version: z.string(),
  tzdata: z.string().describe('the tz database version cron schedules are evaluated with'),
  dialect: z.enum(['sqlite', 'postgres']),
  lease_ms: z.number().int(),
  database: z.strictObject({ available: z.boolean(), last_error: z.string().nullable(), last_error_at: isoTimeOrNull }).describe('whether the database took the last write'),
  disk: z.strictObject({ path: z.string(), free_bytes: z.number(), total_bytes: z.number(), low: z.boolean() }).nullable().describe("the data directory's disk"),
  warnings: z.array(z.string()).describe('what needs a person\'s attention, in words'),
});
export type HealthView = z.infer<typeof healthSchema>;

const alertKinds = Object.values(ALERT_KINDS);
export const alertViewSchema = z
  .strictObject({
    id: z.string(),
    project: z.string(),
    job: z.string(),
    run_id: z.string(),
    rule: z.string().describe('where the rule was written in kairos.yaml, e.g. jobs.train.notify[0]'),
    kind: z.enum(alertKinds as [string, ...string[]]),
    format: z.string().describe('json or slack'),
    target: z.string().describe("the webhook's origin; its path is never returned"),
    state: z.enum(ALERT_STATE_LIST as [AlertState, ...AlertState[]]),
    attempts: z.number().int(),
    next_attempt_at: isoTimeOrNull,
    last_error: z.string().nullable(),
    created_at: isoTimeOrNull,
    delivered_at: isoTimeOrNull,
    payload: z.record(z.string(), z.unknown()).describe('the JSON the webhook receives (docs/alerts.md)'),
  })
  .meta({ id: 'Alert' });
export type AlertViewBody = z.infer<typeof alertViewSchema>;

export const workerViewSchema = z
  .strictObject({
    id: z.string(),
    host: z.string(),
    pools: z.array(z.string()),
    capacity: z.number().int(),
    version: z.string(),
    started_at: isoTimeOrNull,
    heartbeat_at: isoTimeOrNull,
    stopped_at: isoTimeOrNull,
    alive: z.boolean().describe('not stopped, and renewed within two lease periods'),
    place: z.string().nullable().optional().describe('where it runs attempts: local, slurm (docs/places.md)'),
    offer: z
      .strictObject({ cpu: z.number(), memory_bytes: z.number(), gpu: z.number().int(), max_time_ms: z.number().nullable(), slots: z.number().int(), nodes: z.number().int().optional() })
      .nullable()
      .optional()
      .describe('what one attempt can get there, as it registered'),
    running: z.array(z.strictObject({ run_id: z.string(), attempt: z.number().int(), project: z.string(), job: z.string(), started_at: isoTimeOrNull })),
  })
  .meta({ id: 'Worker' });
export type WorkerView = z.infer<typeof workerViewSchema>;

const alertStates = z
  .string()
  .max(LIMITS.list)
  .refine((s) => s.split(',').every((x) => (ALERT_STATE_LIST as readonly string[]).includes(x)), `must be alert states separated by commas; states: ${ALERT_STATE_LIST.join(', ')}`)
  .transform((s) => s.split(','));

export const opsRoutes = {
  health: route({
    method: 'get',
    path: '/api/v1/health',
    summary: 'Server health, version, tz database version, dialect and lease length',
    query: z.strictObject({}),
    responses: { 200: { description: 'ok', schema: healthSchema } },
  }),
  openapi: route({
    method: 'get',
    path: '/api/v1/openapi.json',
    summary: 'This document (OpenAPI 3.1), generated from the schemas the server validates with',
    query: z.strictObject({}),
    responses: { 200: { description: 'the OpenAPI document', schema: z.record(z.string(), z.unknown()) } },
  }),
  metrics: route({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus text format 0.0.4: runs by state, queues, tick lateness, workers, API latency, alerts',
    query: z.strictObject({}),
    responses: { 200: { description: 'the exposition', contentType: 'text/plain' } },
  }),
  alerts: route({
    method: 'get',
    path: '/api/v1/alerts',
    summary: 'Alerts (the webhook outbox), newest first, with their delivery state: pending, delivered, failed',
    query: z.strictObject({ project: name.optional(), job: name.optional(), run: name.optional(), state: alertStates.optional(), limit: queryInt(1, 1000).optional() }),
    responses: { 200: { description: 'alerts', schema: z.strictObject({ alerts: z.array(alertViewSchema) }) } },
  }),
  workers: route({
    method: 'get',
    path: '/api/v1/workers',
    summary: 'Workers: host, pools, capacity, version, whether alive, and what each runs now',
    query: z.strictObject({}),
    responses: { 200: { description: 'workers', schema: z.strictObject({ workers: z.array(workerViewSchema) }) } },
  }),
} as const;
