/**
 * Claims: handing due queued runs to a worker, each as a new attempt under a lease, within the pools'
 * concurrency limits and the `queue` policy's one-at-a-time rule.
 */
import { KairosError } from '../../model/errors.js';
import { withPipelineInputs } from '../pipelines.js';
import { newToken } from '../../model/ids.js';
import type { RunState } from '../../model/run-state.js';
import { anyDueQueued, dueQueuedRuns, lockKey, maxLogSeq, runningCountByPool, type AttemptRow, type Q, type RunRow } from '../../store/runs.js';
import { transitionRun } from '../../store/transitions.js';
import type { Assignment, RecordedEnvironment } from '../../protocol/worker.js';
import { isContainerEnvironment, type CompiledJob, type CompiledManifest } from '../../model/job.js';
import type { Ctx } from '../context.js';
import { openRunSecrets } from '../secrets.js';
import { endAttempt } from './end.js';
import { preferAnotherWorker } from '../network.js';
import { addUsage, fitsBeside, needOf, shortfall, workerOffer, workerUsage, type Need, type Usage } from './placement.js';

const resourcesOf = (n: Need) => ({ cpu: n.cpu, memoryBytes: n.memoryBytes, gpu: n.gpu });

/** What a worker asks for: up to `max` runs of its pools. */
export interface ClaimRequest {
  readonly workerId: string;
  readonly pools: readonly string[];
  readonly max: number;
}

/** `ended`: the attempt could not start (a secret its job names is not set) and was ended at once. */
export type Claimed = { run: RunRow; attempt: AttemptRow; logSeqStart: number; secrets?: Readonly<Record<string, string>>; ended?: { state: RunState; requeued: boolean } };

/** The concurrency limit of each pool, from the active deployments (the smallest when projects disagree). */
async function poolLimits(ctx: Ctx, q: Q): Promise<Map<string, number>> {
  const deps = await ctx.deployments(q);
  const limits = new Map<string, number>();
  for (const d of deps) {
    const m = await ctx.manifestOf(d.id, q);
    for (const p of Object.values(m.pools)) {
      if (p.concurrency === null) continue;
      limits.set(p.name, Math.min(limits.get(p.name) ?? Infinity, p.concurrency));
    }
  }
  return limits;
}

/** Claims up to `max` due runs for a worker: each becomes `running` with a new attempt under a lease. */
export async function claim(ctx: Ctx, workerId: string, pools: readonly string[], max: number): Promise<Assignment[]> {
  if (max <= 0 || pools.length === 0) return [];
  // Every idle worker claims when work is announced, and most find nothing: look first without a
  // transaction (no write lock on SQLite, one query instead of a transaction's worth on PostgreSQL).
  if (!(await anyDueQueued(ctx.db.kysely, pools, ctx.now()))) return [];
  const claimed = await ctx.db.tx((trx) => claimInTx(ctx, trx, { workerId, pools, max }));
  return toAssignments(ctx, claimed);
}

/**
 * What a claim saw besides what it took: `passedOver` is set when it left a due run queued that another
 * worker might take (a pool at its limit, a run that does not fit here, a `queue` run behind a running one,
 * one left to a worker whose network check passed, more due runs than it asked for). Unset, the claim took
 * every due run of its pools that it could see, so no other worker of those pools has any to take now.
 */
export interface ClaimSight {
  passedOver: boolean;
}

export async function claimInTx(ctx: Ctx, trx: Q, req: ClaimRequest, sight: ClaimSight = { passedOver: false }): Promise<Claimed[]> {
  const { workerId, pools, max } = req;
  if (max <= 0 || pools.length === 0) return [];
  const now = ctx.now();
  const limits = await poolLimits(ctx, trx);
  const pg = ctx.db.dialect === 'postgres';
  // PostgreSQL (SQLite's write lock already serialises claims): count a limited pool's running runs only
  // while holding its lock, taken in name order so two claims never wait on each other in a circle.
  if (pg) for (const pool of [...new Set(pools)].filter((p) => limits.has(p)).sort()) await lockKey(trx, `kairos-pool:${pool}`);
  // Only a pool with a limit needs its running runs counted (most have none: no count then).
  const running = limits.size > 0 ? await runningCountByPool(trx) : new Map<string, number>();
  // Placement: a worker that said what its place offers takes only runs that fit it, beside what it runs.
  const offer = await workerOffer(ctx, trx, workerId);
  // What the worker's running attempts use is read once a candidate needs something (most runs ask for no
  // cpu, memory or gpu and fit beside anything).
  let used: Usage | null = null;
  const out: Claimed[] = [];
  const serialBusy = new Set<string>();
  for (const pool of pools) {
    const room = Math.min(max - out.filter((c) => !c.ended).length, (limits.get(pool) ?? Infinity) - (running.get(pool) ?? 0));
    if (room <= 0) {
      sight.passedOver = true;
      continue;
    }
    // A little more than the room, for runs that must wait behind an earlier run of their job (`queue`), or
    // (placement) for runs this worker cannot take. Read a few first: with a long queue, reading (and decoding)
    // 30-odd full rows to take one cost about a tenth of the process's CPU per run. Only when those were not
    // enough are up to `room + 32` read, skipping the ones already looked at.
    const wide = room + (offer ? 32 : 4);
    const narrow = Math.min(wide, room + 1);
    let candidates = await dueQueuedRuns(trx, [pool], now, narrow, pg);
    const seen = new Set<string>();
    let taken = 0;
    let looked = 0;
    for (let i = 0; i < candidates.length; i++) {
      if (taken >= room) break;
      const run = candidates[i] as RunRow;
      looked++;
      seen.add(run.id);
      if (i === candidates.length - 1 && candidates.length === narrow && narrow < wide) {
        // The last of the few: should it not be taken either, the wider read continues after it.
        candidates = [...candidates, ...(await dueQueuedRuns(trx, [pool], now, wide, pg)).filter((r) => !seen.has(r.id))];
      }
      let need: Need | null = null;
      if (offer) {
        const spec = (await ctx.manifestOf(run.deployment_id, trx)).jobs[run.job];
        need = spec ? needOf(spec, run) : null;
        if (need && shortfall(offer, need) !== null) continue;
        if (need && needsRoom(need)) {
          used ??= await workerUsage(ctx, trx, workerId);
          if (!fitsBeside(offer, used, need)) continue;
        }
      }
      const jobKey = `${run.project}/${run.job}`;
      if (run.serial === 1) {
        if (serialBusy.has(jobKey)) continue;
        if (pg) await awaitOlderClaims(trx, run, jobKey);
        if (await runningRunOfJob(trx, run)) {
          serialBusy.add(jobKey);
          continue;
        }
      }
      // Network placement (docs/network.md): leave the run to a worker whose last check of its endpoints passed.
      if (await preferAnotherWorker(ctx, trx, run, workerId, now)) continue;
      const started = await startRun(ctx, trx, run, workerId, now);
      if (!started) continue;
      if (started.ended) {
        out.push(started);
        continue;
      }
      taken++;
      if (need && used) addUsage(used, need);
      if (run.serial === 1) serialBusy.add(jobKey);
      out.push(started);
    }
    // Every candidate looked at was started, or the room ran out before the last of them.
    if (taken < looked || looked < candidates.length) sight.passedOver = true;
  }
  return out;
}

/** Whether a run takes any of what a worker offers (cpu, memory, gpu), so has to fit beside what it runs. */
function needsRoom(n: Need): boolean {
  return (n.cpu ?? 0) > 0 || (n.memoryBytes ?? 0) > 0 || (n.gpu ?? 0) > 0;
}

async function runningRunOfJob(trx: Q, run: RunRow): Promise<boolean> {
  const older = await trx.selectFrom('runs').select('id').where('project', '=', run.project).where('job', '=', run.job).where('state', '=', 'running').limit(1).executeTakeFirst();
  return older !== undefined;
}

/** Starts one queued run: `running`, a new attempt under a lease, its secrets opened (or the attempt ended at once). */
async function startRun(ctx: Ctx, trx: Q, run: RunRow, workerId: string, now: number): Promise<Claimed | null> {
  // Null: another control plane started it meanwhile (the candidates are read before their rows are locked on SQLite).
  const t = await transitionRun(trx, run, { kind: 'start' }, now, () => ({ started_at: run.started_at ?? now })).catch((err: unknown) => {
    if (err instanceof KairosError && err.code === 'conflict') return null;
    throw err;
  });
  if (!t) return null;
  const attempt: AttemptRow = {
    run_id: run.id,
    number: run.attempt,
    state: 'running',
    worker_id: workerId,
    lease_token: newToken(),
    lease_expires_at: now + ctx.settings.leaseMs,
    claimed_at: now,
    started_at: null,
    finished_at: null,
    exit_code: null,
    reason: null,
    reason_code: null,
    pid: null,
    proc_start: null,
    env_hash: null,
    env_packages_json: null,
    env_image_json: null,
    network_json: null,
    network_waiting: null,
    service_up_at: null,
  };
  await trx.insertInto('attempts').values(attempt).execute();
  const runNow: RunRow = { ...run, state: t.next.state, started_at: run.started_at ?? now };
  const secrets = await openRunSecrets(ctx, trx, run.project, (await ctx.manifestOf(run.deployment_id, trx)).jobs[run.job]?.secrets ?? []);
  if (!secrets.ok) {
    const ended = await endAttempt(ctx, trx, runNow, attempt, { outcome: 'failed', exitCode: null, reason: secrets.reason, reasonCode: 'missing_secret' }, now);
    return { run, attempt, logSeqStart: 0, ended };
  }
  const logSeqStart = run.attempt === 1 ? 0 : await maxLogSeq(trx, run.id);
  return { run: runNow, attempt, logSeqStart, ...(Object.keys(secrets.values).length > 0 ? { secrets: secrets.values } : {}) };
}

/**
 * PostgreSQL, before a `queue` run's check for a running older run of its job: take the job's lock (two such
 * checks never overlap), then wait for claims of older queued runs of the job that another control plane is
 * making right now (their rows are locked until it commits). The check that follows then sees those starts.
 */
async function awaitOlderClaims(trx: Q, run: RunRow, jobKey: string): Promise<void> {
  await lockKey(trx, `kairos-job:${jobKey}`);
  await trx
    .selectFrom('runs')
    .select('id')
    .where('project', '=', run.project)
    .where('job', '=', run.job)
    .where('state', '=', 'queued')
    .where('id', '<>', run.id)
    .where('created_at', '<=', Number(run.created_at))
    .forUpdate()
    .execute();
}

export async function toAssignments(ctx: Ctx, claimed: readonly Claimed[]): Promise<Assignment[]> {
  const leaseMs = ctx.settings.leaseMs;
  const assignments: Assignment[] = [];
  for (const c of claimed) {
    if (c.ended) {
      ctx.bus.emit('run', { id: c.run.id, state: c.ended.state });
      if (c.ended.requeued) ctx.bus.emit('work');
      continue;
    }
    const manifest = await ctx.manifestOf(c.run.deployment_id);
    const spec = manifest.jobs[c.run.job];
    if (!spec) throw new Error(`deployment ${c.run.deployment_id} lost job ${c.run.job}`);
    assignments.push({
      lease: { runId: c.run.id, attempt: c.attempt.number, token: c.attempt.lease_token },
      leaseMs,
      run: {
        id: c.run.id,
        project: c.run.project,
        job: c.run.job,
        trigger: c.run.trigger,
        scheduledFor: c.run.scheduled_for === null ? null : Number(c.run.scheduled_for),
        timezone: spec.schedule?.timezone ?? manifest.defaults.timezone,
        params: JSON.parse(c.run.params_json) as Assignment['run']['params'],
        maxAttempts: spec.retries.max + 1,
      },
      deploymentId: c.run.deployment_id,
      bundleHash: c.run.bundle_hash,
      // Workers need not know where alerts go (a webhook URL is often a secret).
      // Resources given for this run alone (kairos run --cpu …) over the job's.
      // A pipeline step with needs fetches its upstream steps' artifacts (src/control/pipelines.ts).
      spec: withPipelineInputs(manifest, { ...spec, notify: [], resources: resourcesOf(needOf(spec, c.run)) }),
      logSeqStart: c.logSeqStart,
      ...(c.secrets ? { secrets: c.secrets } : {}),
      ...(await environmentOf(ctx, manifest, spec, c.run)),
    });
    ctx.bus.emit('run', { id: c.run.id, state: 'running' });
  }
  return assignments;
}

/**
 * The environment a job runs in and, for a retry or a rerun, the one recorded with the original (its hash and
 * packages), so the worker uses the same versions even after the requirements moved on or the cache evicted it.
 */
async function environmentOf(ctx: Ctx, manifest: CompiledManifest, spec: CompiledJob, run: RunRow): Promise<Pick<Assignment, 'environment' | 'pinnedEnvironment'>> {
  const environment = spec.environment ? (manifest.environments[spec.environment] ?? null) : null;
  if (!environment || environment.kind === 'system') return { environment };
  // Images are pushed to and pulled from the team's registry, when the server has one.
  const registry = isContainerEnvironment(environment) && ctx.settings.registry ? { registry: ctx.settings.registry } : {};
  const sources = [run.attempt > 1 ? run.id : null, run.rerun_of].filter((id): id is string => id !== null);
  for (const id of sources) {
    const row = await ctx.db.kysely
      .selectFrom('attempts')
      .select(['env_hash', 'env_packages_json', 'env_image_json'])
      .where('run_id', '=', id)
      .where('env_hash', 'is not', null)
      .where('env_packages_json', 'is not', null)
      .orderBy('number', 'desc')
      .executeTakeFirst();
    if (row?.env_hash && row.env_packages_json) {
      const image = row.env_image_json ? { image: JSON.parse(row.env_image_json) as NonNullable<RecordedEnvironment['image']> } : {};
      return { environment, ...registry, pinnedEnvironment: { hash: row.env_hash, packages: JSON.parse(row.env_packages_json) as RecordedEnvironment['packages'], ...image } };
    }
  }
  return { environment, ...registry };
}
