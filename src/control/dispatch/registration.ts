/** Workers registering, stopping, and asking after a restart what they held before it. */
import { liveAttemptsOfWorker, maxLogSeq } from '../../store/runs.js';
import type { Assignment, LeaseRef, WorkerInfo } from '../../protocol/worker.js';
import { openRunSecrets } from '../secrets.js';
import { toAssignments } from './claims.js';
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
  ctx.workers.invalidate();
}

export async function unregisterWorker(ctx: Ctx, workerId: string): Promise<void> {
  await ctx.db.tx((trx) => trx.updateTable('workers').set({ stopped_at: ctx.now() }).where('id', '=', workerId).execute());
  ctx.workers.invalidate();
}

export async function workerLiveAttempts(ctx: Ctx, workerId: string): Promise<{ lease: LeaseRef; pid: number | null; procStart: string | null; assignment?: Assignment }[]> {
  const q = ctx.db.kysely;
  const rows = await liveAttemptsOfWorker(q, workerId);
  const out: { lease: LeaseRef; pid: number | null; procStart: string | null; assignment?: Assignment }[] = [];
  for (const a of rows) {
    const item = { lease: { runId: a.run_id, attempt: a.number, token: a.lease_token }, pid: a.pid, procStart: a.proc_start };
    // While its lease lives, the attempt may be adopted (a Slurm job outlives its worker): the worker gets
    // what it needs to follow and report it, as at a claim; its log goes on after what was already shipped.
    const run = a.lease_expires_at !== null && Number(a.lease_expires_at) > ctx.now() ? await q.selectFrom('runs').selectAll().where('id', '=', a.run_id).executeTakeFirst() : undefined;
    if (run && run.state === 'running') {
      const secrets = await openRunSecrets(ctx, q, run.project, (await ctx.manifestOf(run.deployment_id, q)).jobs[run.job]?.secrets ?? []);
      if (secrets.ok) {
        const [assignment] = await toAssignments(ctx, [{ run, attempt: a, logSeqStart: await maxLogSeq(q, run.id), ...(Object.keys(secrets.values).length > 0 ? { secrets: secrets.values } : {}) }]);
        if (assignment) {
          out.push({ ...item, assignment });
          continue;
        }
      }
    }
    out.push(item);
  }
  return out;
}
