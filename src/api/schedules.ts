/** Schedules as the API shows them: expression, zone, next fire times, and the tick ledger. */
import { describeCron, nextFire, parseCron, formatInZone } from '../model/cron/index.js';
import { KairosError } from '../model/errors.js';
import type { Engine } from '../control/engine.js';
import { scheduleId } from '../control/deployments.js';
import { iso } from './views.js';

export async function listSchedules(engine: Engine, project: string | undefined, count: number) {
  let q = engine.db.kysely.selectFrom('schedules').selectAll().where('active', '=', 1);
  if (project) q = q.where('project', '=', project);
  const rows = await q.orderBy('project').orderBy('job').execute();
  const now = engine.ctx.now();
  return rows.map((s) => {
    const parsed = parseCron(s.cron);
    const next: { at: string; local: string }[] = [];
    if (parsed.ok && count > 0) {
      let t: number | null = Math.max(now, Number(s.cursor_at));
      for (let i = 0; i < count; i++) {
        t = nextFire(parsed.cron, s.timezone, t);
        if (t === null) break;
        next.push({ at: new Date(t).toISOString(), local: formatInZone(s.timezone, t) });
      }
    }
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
    };
  });
}

export async function listTicks(engine: Engine, project: string, job: string, limit: number) {
  const rows = await engine.db.kysely
    .selectFrom('ticks')
    .selectAll()
    .where('schedule_id', '=', scheduleId(project, job))
    .orderBy('instant', 'desc')
    .limit(limit)
    .execute();
  return rows.map((t) => ({ instant: iso(t.instant), outcome: t.outcome, reason: t.reason, run_id: t.run_id, lateness_ms: Number(t.lateness_ms), recorded_at: iso(t.recorded_at) }));
}

export async function setPaused(engine: Engine, project: string, job: string, paused: boolean) {
  const id = scheduleId(project, job);
  await engine.db.tx(async (trx) => {
    const s = await trx.selectFrom('schedules').select(['id', 'active']).where('id', '=', id).executeTakeFirst();
    if (!s || s.active !== 1) throw new KairosError('not_found', `job "${job}" of project "${project}" has no schedule`);
    await trx.updateTable('schedules').set({ paused: paused ? 1 : 0, updated_at: engine.ctx.now() }).where('id', '=', id).execute();
  });
  engine.bus.emit('schedules');
  const all = await listSchedules(engine, project, 3);
  return all.find((s) => s.job === job);
}
