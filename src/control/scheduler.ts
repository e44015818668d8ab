/**
 * The scheduler: turns due ticks into runs. Every decision is written to the tick ledger in the same
 * transaction as the run it creates, and the ledger's primary key (schedule, instant) and the runs' unique
 * key (schedule_id, scheduled_for) make a second run for one tick impossible, whatever crashes, restarts,
 * clock jumps or extra replicas occur.
 */
import type { CatchupPolicy, ConcurrencyPolicy } from '../manifest/types.js';
import { resolveParams } from '../manifest/index.js';
import { newId } from '../model/ids.js';
import { nextFire, parseCron, type CronExpr } from '../model/cron/index.js';
import { activeRunsOfJob, type Q } from '../store/runs.js';
import type { Ctx } from './context.js';
import { insertRun, cancelInTx, jobOf } from './runs.js';

/** How far behind its instant a tick may be decided and still count as on time under `catchup: none`. */
export const ON_TIME_TOLERANCE_MS = 60_000;
/** At most this many ticks are examined after one downtime; older ones are summarised. */
const MAX_TICKS_SCANNED = 100_000;
/** Skipped ticks recorded one by one after a downtime; beyond this only the count goes in the reason. */
const MAX_SKIPS_RECORDED = 1_000;

export type TickDecision = { kind: 'fire'; instant: number; catchup: boolean } | { kind: 'skip'; instant: number; reason: string };

/**
 * Pure: which of the due ticks fire under a catch-up policy. `due` is ascending, every instant ≤ now.
 * none: only the latest, and only if it is on time; latest: only the latest; all: the most recent
 * `maxCatchup`, oldest first. The rest are skipped with the reason.
 */
export function planCatchup(due: readonly number[], now: number, policy: CatchupPolicy, maxCatchup: number): TickDecision[] {
  const n = due.length;
  return due.map((instant, i): TickDecision => {
    const latest = i === n - 1;
    switch (policy) {
      case 'none':
        if (latest && now - instant <= ON_TIME_TOLERANCE_MS) return { kind: 'fire', instant, catchup: false };
        return { kind: 'skip', instant, reason: 'missed (catchup: none)' };
      case 'latest':
        if (latest) return { kind: 'fire', instant, catchup: n > 1 };
        return { kind: 'skip', instant, reason: 'missed; a later tick ran instead (catchup: latest)' };
      case 'all':
        if (i >= n - maxCatchup) return { kind: 'fire', instant, catchup: n > 1 };
        return { kind: 'skip', instant, reason: `missed; beyond max_catchup ${maxCatchup} (catchup: all)` };
    }
  });
}

function dueTicks(cron: CronExpr, zone: string, cursor: number, now: number): { due: number[]; dropped: number } {
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
  return { due, dropped };
}

export interface SchedulerPass {
  readonly runsCreated: number;
  readonly nextWakeAt: number | null;
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
    .limit(500)
    .execute();
  let runsCreated = 0;
  const created: string[] = [];
  const cancelled: string[] = [];
  for (const { id } of due) {
    const r = await ctx.db.tx((trx) => decideSchedule(ctx, trx, id));
    runsCreated += r.created.length;
    created.push(...r.created);
    cancelled.push(...r.cancelSignals);
  }
  for (const runId of cancelled) ctx.bus.emit('cancel', { runId });
  for (const runId of created) ctx.bus.emit('run', { id: runId, state: 'queued' });
  if (created.length > 0) ctx.bus.emit('work');
  const next = await ctx.db.kysely
    .selectFrom('schedules')
    .select((eb) => eb.fn.min('next_fire_at').as('t'))
    .where('active', '=', 1)
    .where('paused', '=', 0)
    .executeTakeFirst();
  return { runsCreated, nextWakeAt: due.length === 500 ? now : next?.t == null ? null : Number(next.t) };
}

async function decideSchedule(ctx: Ctx, trx: Q, id: string): Promise<{ created: string[]; cancelSignals: string[] }> {
  const now = ctx.now();
  const created: string[] = [];
  const cancelSignals: string[] = [];
  // Re-read inside the write transaction: another pass (or replica) may have moved the cursor already.
  const s = await trx.selectFrom('schedules').selectAll().where('id', '=', id).executeTakeFirst();
  if (!s || s.active !== 1 || s.paused !== 0 || s.next_fire_at === null || Number(s.next_fire_at) > now) return { created, cancelSignals };
  const parsed = parseCron(s.cron);
  if (!parsed.ok) {
    await trx.updateTable('schedules').set({ next_fire_at: null, updated_at: now }).where('id', '=', id).execute();
    return { created, cancelSignals };
  }
  const cursor = Number(s.cursor_at);
  const { due, dropped } = dueTicks(parsed.cron, s.timezone, cursor, now);
  const decisions = planCatchup(due, now, s.catchup as CatchupPolicy, s.max_catchup);
  const dep = await trx.selectFrom('deployments').selectAll().where('id', '=', s.deployment_id).executeTakeFirstOrThrow();
  const spec = await jobOf(ctx, dep, s.job, trx);
  const defaults = resolveParams(spec, {});
  let active = await activeRunsOfJob(trx, s.project, s.job);
  const policy = s.concurrency as ConcurrencyPolicy;
  let firedInBatch = 0;
  for (const d of decisions) {
    if (d.kind === 'skip') {
      const reason = dropped > 0 && d === decisions[0] ? `${d.reason}; ${dropped} older ticks not listed` : d.reason;
      await recordTick(trx, id, d.instant, 'skipped', reason, null, now);
      continue;
    }
    if (!defaults.ok) {
      await recordTick(trx, id, d.instant, 'skipped', `parameters without valid defaults: ${defaults.errors.join('; ')}`, null, now);
      continue;
    }
    // Catch-up ticks after the first of a batch queue behind it instead of being refused by `forbid`.
    const serial = policy === 'queue' || firedInBatch > 0;
    if (policy === 'forbid' && firedInBatch === 0 && active.length > 0) {
      await recordTick(trx, id, d.instant, 'skipped', `run ${active[0]?.id} still active (concurrency: forbid)`, null, now);
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
    const inserted = await recordTick(trx, id, d.instant, 'fired', d.catchup ? 'catch-up' : null, runId, now);
    if (!inserted) continue;
    await insertRun(
      ctx,
      trx,
      dep,
      spec,
      { id: runId, job: s.job, trigger: 'schedule', scheduledFor: d.instant, scheduleId: id, serial },
      defaults.values,
      now,
    );
    created.push(runId);
    firedInBatch++;
  }
  const last = due.length > 0 ? (due[due.length - 1] ?? cursor) : cursor;
  const newCursor = Math.max(cursor, last);
  await trx
    .updateTable('schedules')
    .set({ cursor_at: newCursor, next_fire_at: nextFire(parsed.cron, s.timezone, newCursor), updated_at: now })
    .where('id', '=', id)
    .execute();
  return { created, cancelSignals };
}

/** Writes one ledger entry; false if the tick was already decided (by an earlier pass or another replica). */
async function recordTick(trx: Q, scheduleId: string, instant: number, outcome: 'fired' | 'skipped', reason: string | null, runId: string | null, now: number): Promise<boolean> {
  const r = await trx
    .insertInto('ticks')
    .values({ schedule_id: scheduleId, instant, outcome, reason, run_id: runId, lateness_ms: Math.max(0, now - instant), recorded_at: now })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** Runs scheduler passes at the right moments until stopped. */
export class Scheduler {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private again = false;
  private stopped = false;
  private readonly onChange = () => this.poke();

  constructor(
    private readonly ctx: Ctx,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    this.ctx.bus.on('schedules', this.onChange);
    this.poke();
  }

  stop(): void {
    this.stopped = true;
    this.ctx.bus.off('schedules', this.onChange);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Look again now. */
  poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = true;
    schedulerPass(this.ctx)
      .then((pass) => this.arm(pass.nextWakeAt), (err: unknown) => {
        this.onError(err);
        this.arm(this.ctx.now() + 1000);
      })
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private arm(at: number | null): void {
    if (this.stopped) return;
    // Wake at least once a minute even with nothing due, so a wall-clock jump is noticed.
    const delay = at === null ? 60_000 : Math.min(60_000, Math.max(0, at - this.ctx.now()));
    this.timer = setTimeout(() => this.poke(), delay);
  }
}
