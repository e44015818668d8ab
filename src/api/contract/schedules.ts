/** Schedules, their tick ledgers, backfills, pause and resume: requests and answers. */
import { z } from 'zod';
import { instant, isoTime, isoTimeOrNull, name, noBody, pathName, queryInt, route } from './common.js';
import { runViewSchema } from './runs.js';

export const scheduleViewSchema = z
  .strictObject({
    project: z.string(),
    job: z.string(),
    cron: z.string(),
    timezone: z.string(),
    description: z.string().nullable(),
    catchup: z.string(),
    concurrency: z.string(),
    paused: z.boolean(),
    next_fire_at: isoTimeOrNull,
    last_tick_at: isoTimeOrNull,
    next: z.array(z.strictObject({ at: isoTime, local: z.string() })),
    /** Set when a change of the zone's UTC offset (daylight saving) falls within the previewed fire times. */
    dst_note: z.string().nullable(),
    dst_changes: z.array(z.strictObject({ at: isoTime, offset_before: z.string(), offset_after: z.string() })),
  })
  .meta({ id: 'Schedule' });
export type ScheduleView = z.infer<typeof scheduleViewSchema>;

export const tickViewSchema = z.strictObject({
  instant: isoTimeOrNull,
  /** The instant in the schedule's zone. */
  local: z.string(),
  outcome: z.string().describe('fired, late or skipped'),
  reason: z.string().nullable(),
  run_id: z.string().nullable(),
  lateness_ms: z.number().int(),
  recorded_at: isoTimeOrNull,
});
export type TickView = z.infer<typeof tickViewSchema>;

export const backfillViewSchema = z.strictObject({
  project: z.string(),
  job: z.string(),
  timezone: z.string(),
  concurrency: z.string(),
  serial: z.boolean(),
  dry_run: z.boolean(),
  ticks: z.number().int(),
  existing: z.number().int(),
  planned: z.array(z.strictObject({ scheduled_for: isoTime, local: z.string() })),
  created: z.array(runViewSchema),
});
export type BackfillView = z.infer<typeof backfillViewSchema>;

const projectJob = z.strictObject({ project: pathName, job: pathName });

export const scheduleRoutes = {
  list: route({
    method: 'get',
    path: '/api/v1/schedules',
    summary: 'Schedules with their next fire times (UTC and local); dst_note when a daylight-saving change falls among them',
    query: z.strictObject({ project: name.optional(), count: queryInt(0, 50).optional() }),
    responses: { 200: { description: 'schedules', schema: z.strictObject({ schedules: z.array(scheduleViewSchema) }) } },
  }),
  ticks: route({
    method: 'get',
    path: '/api/v1/schedules/:project/:job/ticks',
    summary: 'The tick ledger of a schedule, newest first: each tick once, with its outcome (fired, late, skipped), reason, run and lateness',
    params: projectJob,
    query: z.strictObject({ limit: queryInt(1, 5000).optional(), from: instant().optional(), to: instant().optional() }),
    responses: { 200: { description: 'ticks', schema: z.strictObject({ ticks: z.array(tickViewSchema) }) } },
  }),
  backfill: route({
    method: 'post',
    path: '/api/v1/schedules/:project/:job/backfill',
    summary: "One run for each tick of the job's schedule in [from, to] (past instants), each with its tick as logical time; ticks that already have a run are left alone",
    params: projectJob,
    body: z.strictObject({ from: instant(), to: instant(), dry_run: z.boolean().optional() }),
    responses: {
      201: { description: 'runs created', schema: backfillViewSchema },
      200: { description: 'nothing created (a dry run, or every tick already has a run)', schema: backfillViewSchema },
    },
    errors: { 422: 'invalid_params: parameter defaults are not valid' },
  }),
  pause: route({
    method: 'post',
    path: '/api/v1/schedules/:project/:job/pause',
    summary: 'Pause a schedule',
    params: projectJob,
    body: noBody,
    responses: { 200: { description: 'the schedule', schema: scheduleViewSchema } },
  }),
  resume: route({
    method: 'post',
    path: '/api/v1/schedules/:project/:job/resume',
    summary: 'Resume a schedule',
    params: projectJob,
    body: noBody,
    responses: { 200: { description: 'the schedule', schema: scheduleViewSchema } },
  }),
} as const;
