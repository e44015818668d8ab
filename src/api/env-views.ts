/** The environment hash of each run's latest attempt that recorded one, added to run views (one query per page). */
import type { Q, RunRow } from '../store/runs.js';
import type { Ctx } from '../control/context.js';
import { waitingReasons } from '../control/dispatch/placement.js';
import type { RunView } from './views.js';

export async function withEnvHashes(db: Q, views: RunView[]): Promise<RunView[]> {
  if (views.length === 0) return views;
  const rows = await db
    .selectFrom('attempts')
    .select(['run_id', 'number', 'env_hash'])
    .where('run_id', 'in', views.map((v) => v.id))
    .where('env_hash', 'is not', null)
    .execute();
  const latest = new Map<string, { number: number; hash: string }>();
  for (const r of rows) {
    const seen = latest.get(r.run_id);
    if (r.env_hash && (!seen || r.number > seen.number)) latest.set(r.run_id, { number: r.number, hash: r.env_hash });
  }
  return views.map((v) => ({ ...v, env_hash: latest.get(v.id)?.hash ?? null }));
}

/** Why each queued run waits, when no live worker of its pool can take it (src/control/dispatch/placement.ts). */
export async function withWaitingReasons(ctx: Ctx, rows: readonly RunRow[], views: RunView[]): Promise<RunView[]> {
  if (!rows.some((r) => r.state === 'queued')) return views;
  const why = await waitingReasons(ctx, ctx.db.kysely, rows);
  return views.map((v) => (v.state === 'queued' ? { ...v, waiting_reason: why.get(v.id) ?? null } : v));
}
