/** The reaper: attempts whose lease expired are lost, and their runs are retried or failed by their policy. */
import type { RunState } from '../../model/run-state.js';
import { expiredAttempts, getRun } from '../../store/runs.js';
import type { Ctx } from '../context.js';
import { endAttempt, recordAttemptEnd } from './end.js';
import { extendLeasesAfterOutage } from './leases.js';

/** Ends the attempts whose lease expired; returns how many runs it moved on. */
export async function reapExpired(ctx: Ctx): Promise<number> {
  const changed = await ctx.db.tx(async (trx) => {
    const now = ctx.now();
    await extendLeasesAfterOutage(ctx, trx, now);
    // PostgreSQL: attempts another control plane is reaping (or a worker is finishing) are locked: skip them.
    const expired = await expiredAttempts(trx, now, ctx.db.dialect === 'postgres');
    const out: { id: string; state: RunState }[] = [];
    for (const attempt of expired) {
      const reason = `lost: lease expired (worker ${attempt.worker_id} stopped reporting)`;
      const end = { outcome: 'lost', exitCode: null, reason, reasonCode: 'lost' } as const;
      const run = await getRun(trx, attempt.run_id);
      if (!run || run.state !== 'running' || run.attempt !== attempt.number) {
        // The run has moved on without this attempt: only the attempt's row is left to end.
        await recordAttemptEnd(trx, attempt, end, now);
        continue;
      }
      const ended = await endAttempt(ctx, trx, run, attempt, end, now);
      out.push({ id: run.id, state: ended.state });
    }
    return out;
  });
  for (const c of changed) ctx.bus.emit('run', c);
  if (changed.length > 0) ctx.bus.emit('work');
  return changed.length;
}
