/** Workers registering, stopping, and asking after a restart what they held before it. */
import { liveAttemptsOfWorker } from '../../store/runs.js';
import type { LeaseRef, WorkerInfo } from '../../protocol/worker.js';
import type { Ctx } from '../context.js';

export async function registerWorker(ctx: Ctx, info: WorkerInfo): Promise<void> {
  const now = ctx.now();
  const values = { host: info.host, pools_json: JSON.stringify(info.pools), capacity: info.capacity, version: info.version, heartbeat_at: now, stopped_at: null, place: info.place ?? null, offer_json: info.offer ? JSON.stringify(info.offer) : null };
  await ctx.db.tx(async (trx) => {
    await trx
      .insertInto('workers')
      .values({ id: info.id, started_at: now, ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet({ ...values, started_at: now }))
      .execute();
  });
}

export async function unregisterWorker(ctx: Ctx, workerId: string): Promise<void> {
  await ctx.db.tx((trx) => trx.updateTable('workers').set({ stopped_at: ctx.now() }).where('id', '=', workerId).execute());
}

export async function workerLiveAttempts(ctx: Ctx, workerId: string): Promise<{ lease: LeaseRef; pid: number | null; procStart: string | null }[]> {
  const rows = await liveAttemptsOfWorker(ctx.db.kysely, workerId);
  return rows.map((a) => ({ lease: { runId: a.run_id, attempt: a.number, token: a.lease_token }, pid: a.pid, procStart: a.proc_start }));
}
