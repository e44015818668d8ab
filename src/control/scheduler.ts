/**
 * The scheduler: turns due ticks into runs. Every decision is written to the tick ledger in the same
 * transaction as the run it creates, and the ledger's primary key (schedule, instant) and the runs' unique
 * key (schedule_id, scheduled_for) make a second run for one tick impossible, whatever crashes, restarts,
 * clock jumps or extra replicas occur.
 */
import type { Selectable } from 'kysely';
import type { CatchupPolicy, CompiledJob, ConcurrencyPolicy } from '../model/job.js';
import { planCatchup, type MissedCause } from '../model/catchup.js';
import { resolveParams } from '../manifest/index.js';
import { KairosError } from '../model/errors.js';
import { newId } from '../model/ids.js';
import { nextFire, parseCron, type CronExpr } from '../model/cron/index.js';
import { TICK_OUTCOME, firedOutcome, type TickOutcome } from '../model/tick.js';
import { moveCursors, writeTicks, type BatchWrites } from './ledger.js';
import { activeRunsOfJob, insertRunRows, type Q, type RunRow } from '../store/runs.js';
import type { SchedulesTable } from '../store/schema.js';
import type { Ctx } from './context.js';
import type { DeploymentRow } from './deployments.js';
import { queuedRunRow, cancelInTx, jobOf } from './runs.js';
import { Loop } from '../lib/loop.js';
import { pipelineOfScheduleJob } from '../model/pipeline.js';
import { insertPipelineRun, pipelineOf, resolvePipelineParams } from './pipelines.js';

type ScheduleRow = Selectable<SchedulesTable>;

export { ON_TIME_TOLERANCE_MS } from '../model/catchup.js';
/** At most this many ticks are examined after one downtime; older ones are summarised. */
const MAX_TICKS_SCANNED = 100_000;
/** Skipped ticks recorded one by one after a downtime; beyond this only the count goes in the reason. */
const MAX_SKIPS_RECORDED = 1_000;

// ── deciding ticks ──

export { planCatchup, type MissedCause, type TickDecision } from '../model/catchup.js';

/** The ticks after `cursor` up to `now`, and `next`: the first tick after the last of them (or after `cursor`). */
function dueTicks(cron: CronExpr, zone: string, cursor: number, now: number): { due: number[]; dropped: number; next: number | null } {
  const due: number[] = [];
  let dropped = 0;
  let t = nextFire(cron, zone, cursor);
  let scanned = 0;
  while (t !== null && t <= now && scanned < MAX_TICKS_SCANNED) {
    due.push(t);
    scanned++;
    t = nextFire(cron, zone, t);
  }
  // Keep the tail; the head beyond what we record individually is only counted.
  const keep = MAX_SKIPS_RECORDED + 1000;
  if (due.length > keep) {
    dropped = due.length - keep;
    due.splice(0, dropped);
  }
  return { due, dropped, next: t };
}

/** Ticks worked out ahead by (expression, zone, cursor), with the moment they were worked out for. */
const dueMemo = new Map<string, { at: number; due: number[]; dropped: number; next: number | null }>();

/**
 * dueTicks, remembered: the ticks after a cursor up to `at` are those up to any later moment before the next
 * tick, so what was worked out before an instant (prepareTicks) or for another schedule with the same
 * expression and cursor serves as it is. Never from a later moment than `now` (the clock may step back).
 */
function dueTicksOf(expr: string, cron: CronExpr, zone: string, cursor: number, now: number): { due: readonly number[]; dropped: number; next: number | null } {
  const key = `${expr}\u0000${zone}\u0000${cursor}`;
  const m = dueMemo.get(key);
  if (m && m.at <= now && (m.next === null || now < m.next)) return m;
  const r = dueTicks(cron, zone, cursor, now);
  if (dueMemo.size >= 20_000) dueMemo.clear();
  dueMemo.set(key, { at: now, ...r });
  return r;
}

export interface SchedulerPass {
  readonly runsCreated: number;
  readonly nextWakeAt: number | null;
}

/** What deciding some ticks did, for the events sent once the transaction has committed. */
interface Decided {
  readonly created: string[];
  readonly cancelSignals: string[];
  /** Pipeline runs created (their steps are the pipeline driver's). */
  readonly pipelineRuns?: string[];
}

function emitDecided(ctx: Ctx, d: Decided): void {
  for (const runId of d.cancelSignals) ctx.bus.emit('cancel', { runId });
  for (const runId of d.created) ctx.bus.emit('run', { id: runId, state: 'queued' });
  if (d.created.length > 0) ctx.bus.emit('work');
  if ((d.pipelineRuns?.length ?? 0) > 0) ctx.bus.emit('pipelineWake');
}

/** Schedules examined per pass; when more are due, the pass asks to be run again at once. */
const PASS_LIMIT = 2000;
/**
 * Schedules decided in one transaction, their runs, ledger entries and cursor moves written with a few
 * multi-row statements. A commit and the reads of a batch cost more than deciding a tick, so 10,000 schedules
 * due at the same minute need large batches; a batch of 500 holds the write lock for some tens of
 * milliseconds, so runs created through the API and workers' claims are not held up long.
 */
const BATCH = 500;

function merge(into: Decided, d: Decided): void {
  into.created.push(...d.created);
  into.cancelSignals.push(...d.cancelSignals);
  if (d.pipelineRuns && d.pipelineRuns.length > 0) {
    if (into.pipelineRuns) into.pipelineRuns.push(...d.pipelineRuns);
    else (into as { pipelineRuns?: string[] }).pipelineRuns = [...d.pipelineRuns];
  }
}

/** Decides every due tick of every active schedule as of `now`. */
export async function schedulerPass(ctx: Ctx): Promise<SchedulerPass> {
  const now = ctx.now();
  const due = await ctx.db.kysely
    .selectFrom('schedules')
    .select('id')
    .where('active', '=', 1)
    .where('paused', '=', 0)
    .where('next_fire_at', '<=', now)
    .orderBy('next_fire_at')
    .limit(PASS_LIMIT)
    .execute();
  let runsCreated = 0;
  let firstError: unknown = null;
  for (let i = 0; i < due.length; i += BATCH) {
    const ids = due.slice(i, i + BATCH).map((r) => r.id);
    const decided: Decided = { created: [], cancelSignals: [] };
    try {
      merge(decided, await ctx.db.tx((trx) => decideBatch(ctx, trx, ids)));
    } catch (err) {
      // One schedule that cannot be decided must not hold up the others: the batch again, one transaction each.
      for (const id of ids) {
        try {
          merge(decided, await ctx.db.tx((trx) => decideBatch(ctx, trx, [id])));
        } catch (one) {
          firstError ??= one;
        }
      }
      firstError ??= err;
    }
    emitDecided(ctx, decided);
    runsCreated += decided.created.length;
  }
  if (firstError !== null) throw firstError;
  const next = await ctx.db.kysely
    .selectFrom('schedules')
    .select((eb) => eb.fn.min('next_fire_at').as('t'))
    .where('active', '=', 1)
    .where('paused', '=', 0)
    .executeTakeFirst();
  return { runsCreated, nextWakeAt: due.length === PASS_LIMIT ? now : next?.t == null ? null : Number(next.t) };
}

/** Schedules prepared ahead of one instant at most (more are decided at the instant without preparation). */
const PREPARE_LIMIT = 50_000;

/**
 * Prepares the ticks due at `at`, a moment before it: reads the schedules whose next tick it is, works out
 * their due ticks (remembered for the pass at the instant) and loads their deployments, jobs and parameter
 * defaults. Nothing is written and nothing decided: at the instant the pass reads every schedule again in its
 * write transaction and decides as it always does, only faster. Returns the number of schedules read.
 */
export async function prepareTicks(ctx: Ctx, at: number): Promise<number> {
  const rows = await ctx.db.kysely
    .selectFrom('schedules')
    .select(['cron', 'timezone', 'cursor_at', 'deployment_id', 'job'])
    .where('active', '=', 1)
    .where('paused', '=', 0)
    .where('next_fire_at', '=', at)
    .limit(PREPARE_LIMIT)
    .execute();
  const jobs = new Set<string>();
  for (const s of rows) {
    const parsed = parseCached(s.cron);
    if (parsed.ok) dueTicksOf(s.cron, parsed.cron, s.timezone, Number(s.cursor_at), at);
    if (pipelineOfScheduleJob(s.job) !== null || jobs.has(`${s.deployment_id}\u0000${s.job}`)) continue;
    jobs.add(`${s.deployment_id}\u0000${s.job}`);
    try {
      defaultParams(await jobOf(ctx, await deploymentOf(ctx.db.kysely, s.deployment_id), s.job));
    } catch {
      // A schedule that cannot be decided is reported by the pass at the instant.
    }
  }
  return rows.length;
}

/** Parsed expressions by text: parsing is pure, and every due schedule needs its expression at every tick. */
const parsedCrons = new Map<string, ReturnType<typeof parseCron>>();

function parseCached(expr: string): ReturnType<typeof parseCron> {
  let p = parsedCrons.get(expr);
  if (!p) {
    p = parseCron(expr);
    if (parsedCrons.size >= 10_000) parsedCrons.clear();
    parsedCrons.set(expr, p);
  }
  return p;
}

type ExistingRuns = Map<number, { id: string; trigger: string }>;

/** Decides the due schedules among `ids` in the caller's transaction. */
async function decideBatch(ctx: Ctx, trx: Q, ids: readonly string[]): Promise<Decided> {
  const now = ctx.now();
  // Re-read inside the write transaction: another pass (or replica) may have moved a cursor already. On
  // PostgreSQL lock the rows; a schedule another control plane is deciding is skipped (it decides it), and one
  // it has just decided is read as it committed it.
  const pg = ctx.db.dialect === 'postgres';
  const rows = (await trx.selectFrom('schedules').selectAll().where('id', 'in', [...ids]).$if(pg, (qb) => qb.orderBy('id').forUpdate().skipLocked()).execute()).filter(
    (s) => s.active === 1 && s.paused === 0 && s.next_fire_at !== null && Number(s.next_fire_at) <= now,
  );
  return decideSchedules(ctx, trx, rows, now, 'downtime');
}

/**
 * Decides the ticks of `rows` from their cursors up to `now`, in the caller's transaction: reads the runs and
 * ledger entries that already exist after the cursors once for the whole batch, decides each schedule (creating
 * runs as it goes), then writes the ledger entries and moves the cursors with a few statements for the batch.
 */
async function decideSchedules(ctx: Ctx, trx: Q, rows: readonly ScheduleRow[], now: number, cause: MissedCause): Promise<Decided> {
  const out: Decided = { created: [], cancelSignals: [] };
  if (rows.length === 0) return out;
  const ids = rows.map((s) => s.id);
  // Runs that already exist for due ticks: a backfill may have covered a tick the scheduler had not reached.
  // One range scan of the runs' unique key (schedule_id, scheduled_for) per schedule, after its cursor.
  const existing = new Map<string, ExistingRuns>(ids.map((id) => [id, new Map()]));
  const runs = await trx
    .selectFrom('schedules as s')
    .innerJoin('runs as r', 'r.schedule_id', 's.id')
    .select(['s.id as schedule_id', 'r.scheduled_for', 'r.id', 'r.trigger'])
    .where('s.id', 'in', ids)
    .whereRef('r.scheduled_for', '>', 's.cursor_at')
    .where('r.scheduled_for', '<=', now)
    .execute();
  for (const r of runs) existing.get(r.schedule_id)?.set(Number(r.scheduled_for), { id: r.id, trigger: r.trigger });
  // Pipeline schedules: their runs are pipeline runs, under the same unique key.
  const pipelineIds = rows.filter((s) => pipelineOfScheduleJob(s.job) !== null).map((s) => s.id);
  if (pipelineIds.length > 0) {
    const prs = await trx
      .selectFrom('schedules as s')
      .innerJoin('pipeline_runs as r', 'r.schedule_id', 's.id')
      .select(['s.id as schedule_id', 'r.scheduled_for', 'r.id', 'r.trigger'])
      .where('s.id', 'in', pipelineIds)
      .whereRef('r.scheduled_for', '>', 's.cursor_at')
      .where('r.scheduled_for', '<=', now)
      .execute();
    for (const r of prs) existing.get(r.schedule_id)?.set(Number(r.scheduled_for), { id: r.id, trigger: r.trigger });
  }
  // Ledger entries after a cursor: only after a backwards clock step and a redeploy that reset the cursor.
  // A tick in the ledger is never decided again.
  const decided = new Map<string, Set<number>>();
  const ticks = await trx
    .selectFrom('schedules as s')
    .innerJoin('ticks as t', 't.schedule_id', 's.id')
    .select(['s.id as schedule_id', 't.instant'])
    .where('s.id', 'in', ids)
    .whereRef('t.instant', '>', 's.cursor_at')
    .where('t.instant', '<=', now)
    .execute();
  for (const t of ticks) {
    const set = decided.get(t.schedule_id) ?? new Set<number>();
    set.add(Number(t.instant));
    decided.set(t.schedule_id, set);
  }
  const writes: BatchWrites = { runs: [], ticks: [], cursors: [] };
  for (const s of rows) merge(out, await decideDue(ctx, trx, s, now, cause, existing.get(s.id) ?? new Map(), decided.get(s.id), writes));
  await insertRunRows(trx, writes.runs);
  await writeTicks(trx, writes.ticks, now);
  await moveCursors(trx, writes.cursors, now);
  return out;
}

type Defaults = ReturnType<typeof resolveParams> & { readonly json?: string };

/** A job's parameter defaults (and their JSON), resolved once per compiled job (compiled manifests are immutable and cached). */
const resolvedDefaults = new WeakMap<CompiledJob, Defaults>();

function defaultParams(spec: CompiledJob): Defaults {
  let d: Defaults | undefined = resolvedDefaults.get(spec);
  if (!d) {
    const r = resolveParams(spec, {});
    d = r.ok ? { ...r, json: JSON.stringify(r.values) } : r;
    resolvedDefaults.set(spec, d);
  }
  return d;
}

/**
 * Deployment rows by id, without their manifest (a manifest of thousands of jobs is megabytes; `jobOf` has
 * it cached, parsed). Rows are immutable but for `active`, which the scheduler does not read from here.
 */
const deployments = new Map<string, DeploymentRow>();

async function deploymentOf(trx: Q, id: string): Promise<DeploymentRow> {
  const cached = deployments.get(id);
  if (cached) return cached;
  const row = await trx
    .selectFrom('deployments')
    .select(['id', 'project', 'version', 'bundle_hash', 'created_at', 'active', 'source'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  const dep: DeploymentRow = { ...row, manifest_json: '' };
  if (deployments.size >= 1000) deployments.clear();
  deployments.set(id, dep);
  return dep;
}

/**
 * Decides the ticks of `s` from its cursor up to `now`: creates the runs of the ticks that fire, and adds the
 * ledger entries and the cursor move to `writes`.
 */
async function decideDue(
  ctx: Ctx,
  trx: Q,
  s: ScheduleRow,
  now: number,
  cause: MissedCause,
  existing: ExistingRuns,
  decided: ReadonlySet<number> | undefined,
  writes: BatchWrites,
): Promise<Decided> {
  const id = s.id;
  const created: string[] = [];
  const cancelSignals: string[] = [];
  const cursor = Number(s.cursor_at);
  const parsed = parseCached(s.cron);
  if (!parsed.ok) {
    writes.cursors.push({ id, cursor, next: null });
    return { created, cancelSignals };
  }
  const { due, dropped, next } = dueTicksOf(s.cron, parsed.cron, s.timezone, cursor, now);
  if (due.length === 0) {
    if (next !== (s.next_fire_at === null ? null : Number(s.next_fire_at))) writes.cursors.push({ id, cursor, next });
    return { created, cancelSignals };
  }
  const record = (instant: number, outcome: TickOutcome, reason: string | null, runId: string | null) =>
    writes.ticks.push({ scheduleId: id, instant, outcome, reason, runId });
  const decisions = planCatchup(due, now, s.catchup as CatchupPolicy, s.max_catchup, cause).filter((d) => !decided?.has(d.instant));
  const policy = s.concurrency as ConcurrencyPolicy;
  const pipelineName = pipelineOfScheduleJob(s.job);
  if (pipelineName !== null) {
    await decidePipelineTicks(ctx, trx, s, pipelineName, decisions, dropped, now, existing, record, created, cancelSignals);
    writes.cursors.push({ id, cursor: due[due.length - 1] ?? cursor, next });
    return { created: [], cancelSignals, pipelineRuns: created };
  }
  let dep: DeploymentRow | undefined;
  let defaults: Defaults | undefined;
  let spec: CompiledJob | undefined;
  let active: RunRow[] = [];
  if (decisions.some((d) => d.kind === 'fire')) {
    dep = await deploymentOf(trx, s.deployment_id);
    spec = await jobOf(ctx, dep, s.job, trx);
    defaults = defaultParams(spec);
    if (policy === 'forbid' || policy === 'replace') active = await activeRunsOfJob(trx, s.project, s.job);
  }
  let firedInBatch = 0;
  for (const d of decisions) {
    if (d.kind === 'skip') {
      record(d.instant, TICK_OUTCOME.skipped, dropped > 0 && d === decisions[0] ? `${d.reason}; ${dropped} older ticks not listed` : d.reason, null);
      continue;
    }
    if (!dep || !spec || !defaults) throw new Error('internal error: a tick fires without its job');
    const already = existing.get(d.instant);
    if (already) {
      record(d.instant, TICK_OUTCOME.skipped, `run ${already.id} (trigger ${already.trigger}) already exists for this tick`, null);
      continue;
    }
    if (!defaults.ok) {
      record(d.instant, TICK_OUTCOME.skipped, `parameters without valid defaults: ${defaults.errors.join('; ')}`, null);
      continue;
    }
    // Catch-up ticks after the first of a batch queue behind it instead of being refused by `forbid`.
    const serial = policy === 'queue' || firedInBatch > 0;
    if (policy === 'forbid' && firedInBatch === 0 && active.length > 0) {
      record(d.instant, TICK_OUTCOME.skipped, `run ${active[0]?.id} still active (concurrency: forbid)`, null);
      continue;
    }
    if (policy === 'replace' && firedInBatch === 0) {
      for (const run of active) {
        const c = await cancelInTx(trx, run, now, `replaced by the tick of ${new Date(d.instant).toISOString()} (concurrency: replace)`);
        if (c.signal) cancelSignals.push(run.id);
      }
      active = [];
    }
    const runId = newId(now);
    record(d.instant, firedOutcome(now - d.instant), d.catchup ? (cause === 'pause' ? 'catch-up after a pause' : 'catch-up') : null, runId);
    writes.runs.push(queuedRunRow(dep, spec, { id: runId, job: s.job, trigger: 'schedule', scheduledFor: d.instant, scheduleId: id, serial }, defaults.json ?? JSON.stringify(defaults.values), now));
    created.push(runId);
    firedInBatch++;
  }
  // Due ticks are all after the cursor, so the last one is the new cursor, and `next` the tick after it.
  writes.cursors.push({ id, cursor: due[due.length - 1] ?? cursor, next });
  return { created, cancelSignals };
}

/** The ticks of a pipeline's schedule: pipeline runs instead of runs, the same catch-up and concurrency rules. */
async function decidePipelineTicks(
  ctx: Ctx,
  trx: Q,
  s: ScheduleRow,
  name: string,
  decisions: ReturnType<typeof planCatchup>,
  dropped: number,
  now: number,
  existing: ExistingRuns,
  record: (instant: number, outcome: TickOutcome, reason: string | null, runId: string | null) => void,
  created: string[],
  cancelSignals: string[],
): Promise<void> {
  const policy = s.concurrency as ConcurrencyPolicy;
  let fired = 0;
  let active: { id: string }[] | null = null;
  for (const d of decisions) {
    if (d.kind === 'skip') {
      record(d.instant, TICK_OUTCOME.skipped, dropped > 0 && d === decisions[0] ? `${d.reason}; ${dropped} older ticks not listed` : d.reason, null);
      continue;
    }
    const already = existing.get(d.instant);
    if (already) {
      record(d.instant, TICK_OUTCOME.skipped, `pipeline run ${already.id} (trigger ${already.trigger}) already exists for this tick`, null);
      continue;
    }
    const dep = await deploymentOf(trx, s.deployment_id);
    const p = pipelineOf(await ctx.manifestOf(dep.id, trx), dep, name);
    const params = resolvePipelineParams(p, {});
    if (!params.ok) {
      record(d.instant, TICK_OUTCOME.skipped, `parameters without valid defaults: ${params.errors.join('; ')}`, null);
      continue;
    }
    active ??= await trx.selectFrom('pipeline_runs').select('id').where('project', '=', s.project).where('pipeline', '=', name).where('state', '=', 'running').execute();
    if ((policy === 'forbid' || policy === 'queue') && fired === 0 && active.length > 0) {
      // `queue` for a pipeline: the tick is recorded skipped like `forbid` (docs/pipelines.md).
      record(d.instant, TICK_OUTCOME.skipped, `pipeline run ${active[0]?.id} still running (concurrency: ${policy})`, null);
      continue;
    }
    if (policy === 'replace' && fired === 0) {
      for (const a of active) {
        await trx.updateTable('pipeline_runs').set({ cancel_requested: 1 }).where('id', '=', a.id).where('state', '=', 'running').execute();
        const live = await trx.selectFrom('pipeline_steps as ps').innerJoin('runs as r', 'r.id', 'ps.run_id').selectAll('r').where('ps.pipeline_run_id', '=', a.id).where('r.state', 'in', ['queued', 'running']).execute();
        for (const run of live) {
          const c = await cancelInTx(trx, run, now, `pipeline run replaced by the tick of ${new Date(d.instant).toISOString()} (concurrency: replace)`);
          if (c.signal) cancelSignals.push(run.id);
        }
      }
      active = [];
    }
    const runId = newId(now);
    record(d.instant, firedOutcome(now - d.instant), d.catchup ? 'catch-up' : null, runId);
    await insertPipelineRun(trx, dep, p, { pipeline: name, trigger: 'schedule', scheduledFor: d.instant, scheduleId: s.id, id: runId }, params.values, now);
    created.push(runId);
    fired++;
  }
}

// ── pause and resume ──

/**
 * Pauses or resumes a schedule. Pausing first decides the ticks already due (they fell before the pause);
 * resuming decides the ticks that fell during the pause: recorded `skipped` with reason "paused", except
 * what the catch-up policy runs (`latest`: the most recent of them). Idempotent.
 */
export async function setSchedulePaused(ctx: Ctx, id: string, paused: boolean): Promise<void> {
  const decided = await ctx.db.tx(async (trx): Promise<Decided> => {
    const s = await trx.selectFrom('schedules').selectAll().where('id', '=', id).$if(ctx.db.dialect === 'postgres', (qb) => qb.forUpdate()).executeTakeFirst();
    if (!s || s.active !== 1) throw new KairosError('not_found', `schedule ${id} does not exist (is the job scheduled in the active deployment?)`);
    const now = ctx.now();
    if ((s.paused === 1) === paused) return { created: [], cancelSignals: [] };
    const d = await decideSchedules(ctx, trx, [s], now, paused ? 'downtime' : 'pause');
    await trx.updateTable('schedules').set({ paused: paused ? 1 : 0, updated_at: now }).where('id', '=', id).execute();
    return d;
  });
  emitDecided(ctx, decided);
  ctx.bus.emit('schedules');
}

/**
 * How long before an instant the scheduler wakes to prepare its ticks (prepareTicks): enough to read and work
 * out 10,000 schedules on a loaded machine, so that at the instant only the transactions remain.
 */
const PREPARE_LEAD_MS = 3000;

/** Runs scheduler passes at the right moments until stopped. */
export class Scheduler {
  private readonly loop: Loop;
  private readonly onChange = () => this.poke();
  /** The instant last prepared for. */
  private preparedFor: number | null = null;

  constructor(
    private readonly ctx: Ctx,
    onError: (err: unknown) => void,
  ) {
    this.loop = new Loop({
      pass: async () => {
        const at = (await schedulerPass(this.ctx)).nextWakeAt;
        // Wake at least once a minute even with nothing due, so a wall-clock jump is noticed.
        if (at === null) return 60_000;
        let wait = at - this.ctx.now();
        // Wake a moment before the next instant to prepare its ticks, then again at the instant to decide them.
        if (wait > PREPARE_LEAD_MS) return Math.min(60_000, wait - PREPARE_LEAD_MS);
        if (wait > 0 && this.preparedFor !== at) {
          this.preparedFor = at;
          await prepareTicks(this.ctx, at);
          wait = at - this.ctx.now();
        }
        return Math.min(60_000, Math.max(0, wait));
      },
      everyMs: 60_000,
      errorDelayMs: 1000,
      onError,
      keepAlive: true,
    });
  }

  start(): void {
    this.ctx.bus.on('schedules', this.onChange);
    this.loop.start();
  }

  /** Stops; resolves when the pass in flight has finished. */
  async stop(): Promise<void> {
    this.ctx.bus.off('schedules', this.onChange);
    await this.loop.stop();
  }

  /** Look again now. */
  poke(): void {
    this.loop.wake();
  }
}
