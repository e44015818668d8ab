/**
 * Placement: which worker may take a run. A worker states at registration where it runs attempts (its place)
 * and what one attempt can get there (its offer: cpu, memory, gpu, longest time, attempts at once, nodes). A
 * run goes only to a worker whose offer covers what it needs (its job's `resources`, over them the run's own,
 * and its `timeout`), and only while what the worker's running attempts use leaves room for it. A queued run
 * that no live worker of its pool can take says why (`waiting_reason`), and with `start_timeout` ends failed.
 */
import type { CompiledJob } from '../../model/job.js';
import { formatDuration } from '../../model/duration.js';
import { addUsage, waitingReason, type LiveWorker, type Need, type Offer, type Usage } from '../../model/placement.js';
import { transitionRun } from '../../store/transitions.js';
import type { Q, RunRow } from '../../store/runs.js';
import type { Ctx } from '../context.js';

export { addUsage, fitsBeside, shortfall, showMemory, waitingReason, type LiveWorker, type Need, type Offer, type Usage } from '../../model/placement.js';

/** Run resources from the job and the run's own (kairos run --cpu/--memory/--gpu). */
export function needOf(spec: CompiledJob, run: Pick<RunRow, 'resources_json'>): Need {
  const own = run.resources_json ? (JSON.parse(run.resources_json) as { cpu?: number; memoryBytes?: number; gpu?: number }) : {};
  return {
    cpu: own.cpu ?? spec.resources.cpu,
    memoryBytes: own.memoryBytes ?? spec.resources.memoryBytes,
    gpu: own.gpu ?? spec.resources.gpu,
    timeMs: spec.timeoutMs,
  };
}

/** A worker's offer as registered; null for workers that did not say (older versions): they take anything. */
export async function workerOffer(ctx: Ctx, q: Q, workerId: string): Promise<Offer | null> {
  // A worker registers (which clears the cache) before it claims; one another control plane registered may
  // not be in the cache yet: read it then.
  const w = (await ctx.liveWorkerRows(q)).find((r) => r.id === workerId) ?? (await q.selectFrom('workers').select('offer_json').where('id', '=', workerId).executeTakeFirst());
  return w?.offer_json ? (JSON.parse(w.offer_json) as Offer) : null;
}

/** What the running attempts of a worker use. */
export async function workerUsage(ctx: Ctx, q: Q, workerId: string): Promise<Usage> {
  const rows = await q
    .selectFrom('attempts')
    .innerJoin('runs', 'runs.id', 'attempts.run_id')
    .select(['runs.deployment_id', 'runs.job', 'runs.resources_json'])
    .where('attempts.state', '=', 'running')
    .where('attempts.worker_id', '=', workerId)
    .execute();
  const used: Usage = { cpu: 0, memoryBytes: 0, gpu: 0 };
  for (const r of rows) {
    const spec = (await ctx.manifestOf(r.deployment_id, q)).jobs[r.job];
    if (spec) addUsage(used, needOf(spec, r));
  }
  return used;
}

/** Workers that are registered, not stopped, and heard from within two leases. */
export async function liveWorkers(ctx: Ctx, q: Q, now: number, leaseMs: number): Promise<LiveWorker[]> {
  const rows = (await ctx.liveWorkerRows(q)).filter((w) => Number(w.heartbeat_at) >= now - 2 * leaseMs);
  return rows.map((w) => ({
    id: w.id,
    host: w.host,
    place: w.place ?? 'local',
    pools: JSON.parse(w.pools_json) as string[],
    offer: w.offer_json ? (JSON.parse(w.offer_json) as Offer) : null,
  }));
}

/** Waiting reasons of queued runs, by run id (runs that wait only for room have none). */
export async function waitingReasons(ctx: Ctx, q: Q, runs: readonly RunRow[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const queued = runs.filter((r) => r.state === 'queued');
  if (queued.length === 0) return out;
  const workers = await liveWorkers(ctx, q, ctx.now(), ctx.settings.leaseMs);
  for (const r of queued) {
    const spec = (await ctx.manifestOf(r.deployment_id, q)).jobs[r.job];
    if (!spec) continue;
    const why = waitingReason(r.pool, needOf(spec, r), workers);
    if (why) out.set(r.id, why);
  }
  return out;
}

/** Queued runs that never started within their job's `start_timeout` end failed, saying why they waited. */
export async function expireUnstarted(ctx: Ctx): Promise<number> {
  const now = ctx.now();
  // Only jobs that set a start_timeout are looked at (most set none: nothing to read then).
  const deps = await ctx.deployments();
  const jobs = new Set<string>();
  for (const d of deps) for (const j of Object.values((await ctx.manifestOf(d.id)).jobs)) if (j.startTimeoutMs != null) jobs.add(j.name);
  if (jobs.size === 0) return 0;
  const candidates = await ctx.db.kysely.selectFrom('runs').selectAll().where('state', '=', 'queued').where('started_at', 'is', null).where('job', 'in', [...jobs]).execute();
  const ended: string[] = [];
  for (const run of candidates) {
    const spec = (await ctx.manifestOf(run.deployment_id)).jobs[run.job];
    const limit = spec?.startTimeoutMs ?? null;
    if (!spec || limit === null || Number(run.created_at) + limit > now) continue;
    const workers = await liveWorkers(ctx, ctx.db.kysely, now, ctx.settings.leaseMs);
    const why = waitingReason(run.pool, needOf(spec, run), workers) ?? `no worker of pool ${run.pool} was free`;
    const reason = `not started within ${formatDuration(limit)} (start_timeout): ${why}`;
    const t = await ctx.db.tx((trx) => transitionRun(trx, run, { kind: 'start_timeout' }, now, () => ({ finished_at: now, reason, reason_code: 'start_timeout' })));
    if (t?.changed) ended.push(run.id);
  }
  for (const id of ended) ctx.bus.emit('run', { id, state: 'failed' });
  return ended.length;
}
