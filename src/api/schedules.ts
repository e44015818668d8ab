/** Schedules as the API shows them: expression, zone, next fire times, and the tick ledger. */
import { describeCron, dstChangesBetween, formatInZone, nextFire, parseCron, type DstChange } from '../model/cron/index.js';
import { formatOffset } from '../model/cron/zone.js';
import { KairosError } from '../model/errors.js';
import type { Engine } from '../control/engine.js';
import { scheduleId } from '../control/deployments.js';
import { setSchedulePaused } from '../control/scheduler.js';
import { backfill } from '../control/backfill.js';
import { iso, runView } from './views.js';

/** One sentence naming each change of the zone's UTC offset among the previewed fire times, or null. */
export function dstNote(zone: string, changes: readonly DstChange[]): string | null {
  if (changes.length === 0) return null;
  return changes
    .map((c) => `the UTC offset of ${zone} changes from ${formatOffset(c.offsetBeforeMin * 60)} to ${formatOffset(c.offsetAfterMin * 60)} at ${new Date(c.atMs).toISOString()} (${formatInZone(zone, c.atMs)}), within these fire times`)
    .join('; ');
}

export async function listSchedules(engine: Engine, project: string | undefined, count: number, job?: string) {
  let q = engine.db.kysely.selectFrom('schedules').selectAll().where('active', '=', 1);
  if (project) q = q.where('project', '=', project);
  if (job) q = q.where('job', '=', job);
  const rows = await q.orderBy('project').orderBy('job').execute();
  const now = engine.ctx.now();
  return rows.map((s) => {
    const parsed = parseCron(s.cron);
    const next: { at: string; local: string }[] = [];
    const from = Math.max(now, Number(s.cursor_at));
    let last = from;
    if (parsed.ok && count > 0) {
      let t: number | null = from;
      for (let i = 0; i < count; i++) {
        t = nextFire(parsed.cron, s.timezone, t);
        if (t === null) break;
        last = t;
        next.push({ at: new Date(t).toISOString(), local: formatInZone(s.timezone, t) });
      }
    }
    const changes = dstChangesBetween(s.timezone, from, last);
    return {
      project: s.project,
      job: s.job,
      cron: s.cron,
      timezone: s.timezone,
      description: parsed.ok ? describeCron(parsed.cron) : null,
      catchup: s.catchup,
      concurrency: s.concurrency,
      paused: s.paused === 1,
      next_fire_at: s.paused === 1 ? null : iso(s.next_fire_at),
      last_tick_at: iso(s.cursor_at),
      next,
      dst_note: dstNote(s.timezone, changes),
      dst_changes: changes.map((c) => ({ at: new Date(c.atMs).toISOString(), offset_before: formatOffset(c.offsetBeforeMin * 60), offset_after: formatOffset(c.offsetAfterMin * 60) })),
    };
  });
}

export interface TickQuery {
  readonly limit: number;
  /** Only ticks at or after this instant (epoch ms). */
  readonly from?: number;
  /** Only ticks at or before this instant (epoch ms). */
  readonly to?: number;
}

/** The tick ledger of a schedule, newest first; each instant also in the schedule's zone. */
export async function listTicks(engine: Engine, project: string, job: string, query: TickQuery) {
  const id = scheduleId(project, job);
  const db = engine.db.kysely;
  // A schedule removed by a later deploy keeps its row (inactive) and its ledger.
  const s = await db.selectFrom('schedules').select(['timezone']).where('id', '=', id).executeTakeFirst();
  if (!s) throw new KairosError('not_found', `job "${job}" of project "${project}" has never had a schedule`);
  let q = db.selectFrom('ticks').selectAll().where('schedule_id', '=', id);
  if (query.from !== undefined) q = q.where('instant', '>=', query.from);
  if (query.to !== undefined) q = q.where('instant', '<=', query.to);
  const rows = await q.orderBy('instant', 'desc').limit(query.limit).execute();
  const entries = rows.map((t) => ({
    instant: iso(t.instant),
    local: formatInZone(s.timezone, Number(t.instant)),
    outcome: t.outcome,
    reason: t.reason,
    run_id: t.run_id,
    lateness_ms: Number(t.lateness_ms),
    recorded_at: iso(t.recorded_at),
  }));
  // A backfill writes no ledger entry (the ledger is what the scheduler decided), but its runs belong to the
  // schedule's ticks: each tick that only a backfill ran shows as outcome `backfill`, with its run.
  let bq = db.selectFrom('runs').select(['id', 'scheduled_for', 'created_at']).where('schedule_id', '=', id).where('trigger', '=', 'backfill');
  if (query.from !== undefined) bq = bq.where('scheduled_for', '>=', query.from);
  if (query.to !== undefined) bq = bq.where('scheduled_for', '<=', query.to);
  const backfilled = await bq.orderBy('scheduled_for', 'desc').limit(query.limit).execute();
  const inLedger = new Set(rows.map((t) => Number(t.instant)));
  for (const r of backfilled) {
    const at = Number(r.scheduled_for);
    if (inLedger.has(at)) continue;
    entries.push({ instant: iso(at), local: formatInZone(s.timezone, at), outcome: 'backfill', reason: null, run_id: r.id, lateness_ms: 0, recorded_at: iso(r.created_at) });
  }
  return entries.sort((a, b) => Date.parse(b.instant ?? '') - Date.parse(a.instant ?? '')).slice(0, query.limit);
}

export async function setPaused(engine: Engine, project: string, job: string, paused: boolean) {
  const id = scheduleId(project, job);
  try {
    await setSchedulePaused(engine.ctx, id, paused);
  } catch (err) {
    if (err instanceof KairosError && err.code === 'not_found') throw new KairosError('not_found', `job "${job}" of project "${project}" has no schedule`);
    throw err;
  }
  const all = await listSchedules(engine, project, 3);
  return all.find((s) => s.job === job);
}

/** POST …/backfill: `{from, to, dry_run?}`, the instants already parsed (epoch ms) by the contract. */
export async function runBackfill(engine: Engine, project: string, job: string, body: { from: number; to: number; dry_run?: boolean }) {
  const r = await backfill(engine.ctx, { project, job, from: body.from, to: body.to, dryRun: body.dry_run === true });
  return {
    project: r.project,
    job: r.job,
    timezone: r.timezone,
    concurrency: r.concurrency,
    serial: r.serial,
    dry_run: body.dry_run === true,
    ticks: r.ticks.length,
    existing: r.existing,
    planned: r.planned.map((t) => ({ scheduled_for: new Date(t).toISOString(), local: formatInZone(r.timezone, t) })),
    created: r.created.map(runView),
  };
}
