/**
 * Backfill: one run for each tick of a job's schedule in a past range, each with its tick as logical time
 * (`KAIROS_SCHEDULED_FOR`). Backfill runs carry the schedule's id, so the runs' unique key (schedule_id,
 * scheduled_for) makes a backfill idempotent: asking twice creates nothing new, and a tick the scheduler
 * already ran is not run again. Backfill does not write to the tick ledger: the ledger records what the
 * scheduler decided at each tick, and a backfill is a later, separate request.
 */
import { resolveParams } from '../manifest/index.js';
import type { ConcurrencyPolicy } from '../model/job.js';
import { fireTimesBetween, parseCron } from '../model/cron/index.js';
import { KairosError } from '../model/errors.js';
import { newId } from '../model/ids.js';
import type { RunRow } from '../store/runs.js';
import type { Ctx } from './context.js';
import { scheduleId } from './deployments.js';
import { insertRun, jobOf, resolveProject } from './runs.js';
import { insertPipelineRun, pipelineOf, resolvePipelineParams, type PipelineRunRow } from './pipelines.js';
import { pipelineScheduleJob } from '../model/pipeline.js';

/** At most this many ticks in one backfill; a longer range must be split (so one request cannot flood the queue). */
export const MAX_BACKFILL_RUNS = 10_000;

/** Concurrency policy → whether backfill runs wait for one another (`serial`). */
export function backfillSerial(policy: ConcurrencyPolicy): boolean {
  switch (policy) {
    case 'allow':
      return false;
    case 'forbid':
    case 'queue':
    case 'replace':
      // A backfill never cancels anything; a job that must not overlap itself runs its backfill one at a time.
      return true;
  }
}

export interface BackfillRequest {
  readonly project?: string;
  readonly job: string;
  /** Inclusive bounds, epoch ms. */
  readonly from: number;
  readonly to: number;
  readonly dryRun: boolean;
}

export interface BackfillResult {
  readonly project: string;
  readonly job: string;
  readonly timezone: string;
  readonly concurrency: ConcurrencyPolicy;
  readonly serial: boolean;
  /** Every tick in the range, ascending. */
  readonly ticks: readonly number[];
  /** Ticks that already had a run (from the scheduler or an earlier backfill). */
  readonly existing: number;
  /** The ticks without a run: created now, or (dry run) that would be. */
  readonly planned: readonly number[];
  readonly created: readonly RunRow[];
}

export async function backfill(ctx: Ctx, req: BackfillRequest): Promise<BackfillResult> {
  if (!Number.isFinite(req.from) || !Number.isFinite(req.to)) throw new KairosError('invalid_input', '"from" and "to" must be instants');
  if (req.from > req.to) throw new KairosError('invalid_input', `"from" (${new Date(req.from).toISOString()}) is after "to" (${new Date(req.to).toISOString()})`);
  const now = ctx.now();
  if (req.to > now) {
    throw new KairosError('invalid_input', `"to" (${new Date(req.to).toISOString()}) is in the future; a backfill covers past ticks, the scheduler fires the coming ones`);
  }
  const dep = await resolveProject(ctx.db.kysely, req.project);
  const spec = await jobOf(ctx, dep, req.job);
  const id = scheduleId(dep.project, spec.name);
  const sched = await ctx.db.kysely.selectFrom('schedules').selectAll().where('id', '=', id).executeTakeFirst();
  if (!spec.schedule || !sched || sched.active !== 1) {
    throw new KairosError('invalid_input', `job "${spec.name}" of project "${dep.project}" has no schedule; a backfill runs a schedule's past ticks (use \`kairos run\` for a one-off run)`);
  }
  const parsed = parseCron(sched.cron);
  if (!parsed.ok) throw new KairosError('internal', `the schedule of ${id} does not parse: ${parsed.error.message}`);
  // Inclusive of `from`: fire times are strictly after the first argument, and whole seconds.
  const ticks = fireTimesBetween(parsed.cron, sched.timezone, req.from - 1, req.to, MAX_BACKFILL_RUNS + 1);
  if (ticks.length > MAX_BACKFILL_RUNS) {
    throw new KairosError(
      'invalid_input',
      `the range has more than ${MAX_BACKFILL_RUNS} ticks of "${sched.cron}" (${sched.timezone}); the limit is ${MAX_BACKFILL_RUNS} runs per backfill: split the range`,
    );
  }
  const params = resolveParams(spec, {});
  if (!params.ok) throw new KairosError('invalid_params', `backfill runs use the parameters' defaults, and they are not valid: ${params.errors.join('; ')}`, { errors: params.errors });
  const concurrency = sched.concurrency as ConcurrencyPolicy;
  const serial = backfillSerial(concurrency);

  const plan = async (q: typeof ctx.db.kysely) => {
    if (ticks.length === 0) return { existing: 0, planned: [] as number[] };
    const rows = await q
      .selectFrom('runs')
      .select('scheduled_for')
      .where('schedule_id', '=', id)
      .where('scheduled_for', '>=', ticks[0] ?? 0)
      .where('scheduled_for', '<=', ticks[ticks.length - 1] ?? 0)
      .execute();
    const have = new Set(rows.map((r) => Number(r.scheduled_for)));
    return { existing: ticks.filter((t) => have.has(t)).length, planned: ticks.filter((t) => !have.has(t)) };
  };

  const base = { project: dep.project, job: spec.name, timezone: sched.timezone, concurrency, serial, ticks };
  if (req.dryRun) return { ...base, ...(await plan(ctx.db.kysely)), created: [] };

  // One transaction: the check for existing runs and the inserts see the same state, so two backfills of
  // the same range at once cannot both create a tick's run (the unique key would refuse the second anyway).
  const result = await ctx.db.tx(async (trx) => {
    // PostgreSQL: hold the schedule's row, as a scheduler pass on any control plane does while deciding it.
    if (ctx.db.dialect === 'postgres') await trx.selectFrom('schedules').select('id').where('id', '=', id).forUpdate().execute();
    const p = await plan(trx);
    const created: RunRow[] = [];
    for (const t of p.planned) {
      created.push(
        await insertRun(trx, dep, spec, { id: newId(now), job: spec.name, trigger: 'backfill', scheduledFor: t, scheduleId: id, serial }, params.values, now),
      );
    }
    return { ...p, created };
  });
  for (const r of result.created) ctx.bus.emit('run', { id: r.id, state: r.state });
  if (result.created.length > 0) ctx.bus.emit('work');
  return { ...base, ...result };
}

export interface PipelineBackfillResult {
  readonly project: string;
  readonly pipeline: string;
  readonly timezone: string;
  readonly ticks: readonly number[];
  readonly existing: number;
  readonly planned: readonly number[];
  readonly created: readonly PipelineRunRow[];
}

/**
 * Backfill of a pipeline: one pipeline run per tick of its schedule in the range, each with its tick as logical
 * time (every step run gets it too). Idempotent like a job's: pipeline runs carry the schedule's id, and
 * (schedule_id, scheduled_for) is unique.
 */
export async function backfillPipeline(ctx: Ctx, req: { project?: string; pipeline: string; from: number; to: number; dryRun: boolean }): Promise<PipelineBackfillResult> {
  if (!Number.isFinite(req.from) || !Number.isFinite(req.to)) throw new KairosError('invalid_input', '"from" and "to" must be instants');
  if (req.from > req.to) throw new KairosError('invalid_input', `"from" (${new Date(req.from).toISOString()}) is after "to" (${new Date(req.to).toISOString()})`);
  const now = ctx.now();
  if (req.to > now) throw new KairosError('invalid_input', `"to" (${new Date(req.to).toISOString()}) is in the future; a backfill covers past ticks, the scheduler fires the coming ones`);
  const dep = await resolveProject(ctx.db.kysely, req.project);
  const p = pipelineOf(await ctx.manifestOf(dep.id), dep, req.pipeline);
  const id = scheduleId(dep.project, pipelineScheduleJob(p.name));
  const sched = await ctx.db.kysely.selectFrom('schedules').selectAll().where('id', '=', id).executeTakeFirst();
  if (!p.schedule || !sched || sched.active !== 1) throw new KairosError('invalid_input', `pipeline "${p.name}" of project "${dep.project}" has no schedule; a backfill runs a schedule's past ticks (use \`kairos run ${p.name}\` for a one-off run)`);
  const parsed = parseCron(sched.cron);
  if (!parsed.ok) throw new KairosError('internal', `the schedule of ${id} does not parse: ${parsed.error.message}`);
  const ticks = fireTimesBetween(parsed.cron, sched.timezone, req.from - 1, req.to, MAX_BACKFILL_RUNS + 1);
  if (ticks.length > MAX_BACKFILL_RUNS) throw new KairosError('invalid_input', `the range has more than ${MAX_BACKFILL_RUNS} ticks; split the range`);
  const params = resolvePipelineParams(p, {});
  if (!params.ok) throw new KairosError('invalid_params', `backfill runs use the parameters' defaults, and they are not valid: ${params.errors.join('; ')}`, { errors: params.errors });
  const plan = async (q: typeof ctx.db.kysely) => {
    if (ticks.length === 0) return { existing: 0, planned: [] as number[] };
    const rows = await q.selectFrom('pipeline_runs').select('scheduled_for').where('schedule_id', '=', id).where('scheduled_for', '>=', ticks[0] ?? 0).where('scheduled_for', '<=', ticks[ticks.length - 1] ?? 0).execute();
    const have = new Set(rows.map((r) => Number(r.scheduled_for)));
    return { existing: ticks.filter((t) => have.has(t)).length, planned: ticks.filter((t) => !have.has(t)) };
  };
  const base = { project: dep.project, pipeline: p.name, timezone: sched.timezone, ticks };
  if (req.dryRun) return { ...base, ...(await plan(ctx.db.kysely)), created: [] };
  const result = await ctx.db.tx(async (trx) => {
    if (ctx.db.dialect === 'postgres') await trx.selectFrom('schedules').select('id').where('id', '=', id).forUpdate().execute();
    const pl = await plan(trx);
    const created: PipelineRunRow[] = [];
    for (const t of pl.planned) created.push(await insertPipelineRun(trx, dep, p, { pipeline: p.name, trigger: 'backfill', scheduledFor: t, scheduleId: id }, params.values, now));
    return { ...pl, created };
  });
  if (result.created.length > 0) ctx.bus.emit('pipelineWake');
  return { ...base, ...result };
}
