/**
 * Handing attempts to workers under leases, and everything a worker reports back. Every report is checked
 * against the attempt's lease token inside the same transaction that applies it, so a worker that comes
 * back after its lease was given up cannot change anything.
 */
import { KairosError } from '../model/errors.js';
import { newToken } from '../model/ids.js';
import { transition, type AttemptOutcome, type RunState } from '../model/run-state.js';
import { insertLogChunk } from '../store/logs.js';
import { anyDueQueued, expiredAttempts, getAttempt, getRun, lockKey, liveAttemptsOfWorker, maxLogSeq, dueQueuedRuns, runningCountByPool, type AttemptRow, type Q, type RunRow } from '../store/runs.js';
import type { RunsTable } from '../store/schema.js';
import type { Assignment, AttemptResult, HeartbeatReply, LeaseRef, LogLine, RecordedEnvironment, StartedInfo, WorkerInfo } from '../protocol/worker.js';
import type { CompiledJob, CompiledManifest } from '../manifest/types.js';
import type { Ctx } from './context.js';
import { openRunSecrets } from './secrets.js';
import { enqueueMetricAlerts, enqueueRunEnded } from './alerts.js';

/** The concurrency limit of each pool, from the active deployments (the smallest when projects disagree). */
async function poolLimits(ctx: Ctx, q: Q): Promise<Map<string, number>> {
  const deps = await q.selectFrom('deployments').select('id').where('active', '=', 1).execute();
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

export async function registerWorker(ctx: Ctx, info: WorkerInfo): Promise<void> {
  const now = ctx.now();
  const values = { host: info.host, pools_json: JSON.stringify(info.pools), capacity: info.capacity, version: info.version, heartbeat_at: now, stopped_at: null };
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

/** What a worker asks for: up to `max` runs of its pools. */
export interface ClaimRequest {
  readonly workerId: string;
  readonly pools: readonly string[];
  readonly max: number;
}

/** `ended`: the attempt could not start (a secret its job names is not set) and was ended at once. */
type Claimed = { run: RunRow; attempt: AttemptRow; logSeqStart: number; secrets?: Readonly<Record<string, string>>; ended?: { state: RunState; requeued: boolean } };

/** Claims up to `max` due runs for a worker: each becomes `running` with a new attempt under a lease. */
export async function claim(ctx: Ctx, workerId: string, pools: readonly string[], max: number): Promise<Assignment[]> {
  if (max <= 0 || pools.length === 0) return [];
  // Every idle worker claims when work is announced, and most find nothing: look first without a
  // transaction (no write lock on SQLite, one query instead of a transaction's worth on PostgreSQL).
  if (!(await anyDueQueued(ctx.db.kysely, pools, ctx.now()))) return [];
  const claimed = await ctx.db.tx((trx) => claimInTx(ctx, trx, { workerId, pools, max }));
  return toAssignments(ctx, claimed);
}

async function claimInTx(ctx: Ctx, trx: Q, req: ClaimRequest): Promise<Claimed[]> {
  const { workerId, pools, max } = req;
  if (max <= 0 || pools.length === 0) return [];
  const leaseMs = ctx.settings.leaseMs;
  const now = ctx.now();
  const limits = await poolLimits(ctx, trx);
  const pg = ctx.db.dialect === 'postgres';
  // PostgreSQL (SQLite's write lock already serialises claims): count a limited pool's running runs only
  // while holding its lock, taken in name order so two claims never wait on each other in a circle.
  if (pg) for (const pool of [...new Set(pools)].filter((p) => limits.has(p)).sort()) await lockKey(trx, `kairos-pool:${pool}`);
  const running = await runningCountByPool(trx);
  const out: Claimed[] = [];
  const serialBusy = new Set<string>();
  for (const pool of pools) {
    const room = Math.min(max - out.filter((c) => !c.ended).length, (limits.get(pool) ?? Infinity) - (running.get(pool) ?? 0));
    if (room <= 0) continue;
    // A little more than the room, for runs that must wait behind an earlier run of their job (`queue`).
    const candidates = await dueQueuedRuns(trx, [pool], now, room + 4, pg);
    let taken = 0;
    for (const run of candidates) {
      if (taken >= room) break;
      const jobKey = `${run.project}/${run.job}`;
      if (run.serial === 1) {
        if (serialBusy.has(jobKey)) continue;
        if (pg) await awaitOlderClaims(trx, run, jobKey);
        const older = await trx
          .selectFrom('runs')
          .select('id')
          .where('project', '=', run.project)
          .where('job', '=', run.job)
          .where('state', '=', 'running')
          .limit(1)
          .executeTakeFirst();
        if (older) {
          serialBusy.add(jobKey);
          continue;
        }
      }
      const t = transition({ state: run.state as RunState, attempt: run.attempt, cancelRequested: run.cancel_requested === 1 }, { kind: 'start' }, now);
      if (!t.ok) continue;
      const updated = await trx
        .updateTable('runs')
        .set({ state: 'running', started_at: run.started_at ?? now })
        .where('id', '=', run.id)
        .where('state', '=', 'queued')
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) continue;
      const attempt: AttemptRow = {
        run_id: run.id,
        number: run.attempt,
        state: 'running',
        worker_id: workerId,
        lease_token: newToken(),
        lease_expires_at: now + leaseMs,
        claimed_at: now,
        started_at: null,
        finished_at: null,
        exit_code: null,
        reason: null,
        pid: null,
        proc_start: null,
        env_hash: null,
        env_packages_json: null,
      };
      await trx.insertInto('attempts').values(attempt).execute();
      const secrets = await openRunSecrets(ctx, trx, run.project, (await ctx.manifestOf(run.deployment_id, trx)).jobs[run.job]?.secrets ?? []);
      if (!secrets.ok) {
        const ended = await endAttempt(ctx, trx, { ...run, state: 'running' }, attempt, 'failed', null, secrets.reason, now);
        out.push({ run, attempt, logSeqStart: 0, ended });
        continue;
      }
      taken++;
      if (run.serial === 1) serialBusy.add(jobKey);
      out.push({ run: { ...run, state: 'running' }, attempt, logSeqStart: run.attempt === 1 ? 0 : await maxLogSeq(trx, run.id), ...(Object.keys(secrets.values).length > 0 ? { secrets: secrets.values } : {}) });
    }
  }
  return out;
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

async function toAssignments(ctx: Ctx, claimed: readonly Claimed[]): Promise<Assignment[]> {
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
      spec: { ...spec, notify: [] },
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
  const sources = [run.attempt > 1 ? run.id : null, run.rerun_of].filter((id): id is string => id !== null);
  for (const id of sources) {
    const row = await ctx.db.kysely
      .selectFrom('attempts')
      .select(['env_hash', 'env_packages_json'])
      .where('run_id', '=', id)
      .where('env_hash', 'is not', null)
      .where('env_packages_json', 'is not', null)
      .orderBy('number', 'desc')
      .executeTakeFirst();
    if (row?.env_hash && row.env_packages_json) {
      return { environment, pinnedEnvironment: { hash: row.env_hash, packages: JSON.parse(row.env_packages_json) as RecordedEnvironment['packages'] } };
    }
  }
  return { environment };
}

/** A worker's package list as stored: only {name, version} strings (it may have come over the network). */
function packagesJson(packages: unknown): string | null {
  if (!Array.isArray(packages)) return null;
  const clean = packages
    .filter((p): p is { name: string; version: string } => typeof p === 'object' && p !== null && typeof p.name === 'string' && typeof p.version === 'string')
    .map((p) => ({ name: p.name, version: p.version }));
  return JSON.stringify(clean);
}

/** The live attempt a lease names, or a `stale_lease` error. */
async function requireLease(trx: Q, lease: LeaseRef, lock = false): Promise<{ attempt: AttemptRow; run: RunRow }> {
  // PostgreSQL: lock the attempt, so a reaper on another control plane cannot end it at the same time.
  const attempt = await getAttempt(trx, lease.runId, lease.attempt, lock);
  if (!attempt || attempt.lease_token !== lease.token || attempt.state !== 'running') {
    throw new KairosError('stale_lease', `lease on run ${lease.runId} attempt ${lease.attempt} is no longer valid`);
  }
  const run = lock ? await trx.selectFrom('runs').selectAll().where('id', '=', lease.runId).forUpdate().executeTakeFirst() : await getRun(trx, lease.runId);
  if (!run) throw new KairosError('stale_lease', `run ${lease.runId} is gone`);
  return { attempt, run };
}

async function recordStart(ctx: Ctx, trx: Q, lease: LeaseRef, info: StartedInfo): Promise<void> {
  await trx
    .updateTable('attempts')
    // The worker's own stamp of the moment the process started (same machine: same clock).
    .set({ started_at: Number.isFinite(info.startedAt) ? info.startedAt : ctx.now(), pid: info.pid, proc_start: info.procStart })
    .where('run_id', '=', lease.runId)
    .where('number', '=', lease.attempt)
    .execute();
}

export async function markStarted(ctx: Ctx, lease: LeaseRef, info: StartedInfo): Promise<void> {
  // One conditional statement (atomic on both dialects): the lease check and the write together.
  const updated = await ctx.db.kysely
    .updateTable('attempts')
    .set({ started_at: Number.isFinite(info.startedAt) ? info.startedAt : ctx.now(), pid: info.pid, proc_start: info.procStart })
    .where('run_id', '=', lease.runId)
    .where('number', '=', lease.attempt)
    .where('lease_token', '=', lease.token)
    .where('state', '=', 'running')
    .executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) throw new KairosError('stale_lease', `lease on run ${lease.runId} attempt ${lease.attempt} is no longer valid`);
}

/**
 * After the database was unavailable (locked, down, disk full), workers could not renew their leases: the
 * first heartbeat or reaper transaction that gets through extends every running attempt's lease by one lease
 * period from now, so no run is lost only because the database was. (Issue 21; kept here, small, on purpose.)
 */
async function extendLeasesAfterOutage(ctx: Ctx, trx: Q, now: number): Promise<void> {
  const availability = ctx.db.availability;
  if (!availability.recoveryPending) return;
  await trx.updateTable('attempts').set({ lease_expires_at: now + ctx.settings.leaseMs }).where('state', '=', 'running').where('lease_expires_at', '<', now + ctx.settings.leaseMs).execute();
  availability.recoveryPending = false;
}

export async function heartbeat(ctx: Ctx, workerId: string, leases: readonly LeaseRef[]): Promise<HeartbeatReply> {
  const refused: LeaseRef[] = [];
  const cancel: string[] = [];
  await ctx.db.tx(async (trx) => {
    const now = ctx.now();
    await extendLeasesAfterOutage(ctx, trx, now);
    await trx.updateTable('workers').set({ heartbeat_at: now }).where('id', '=', workerId).execute();
    for (const lease of leases) {
      const attempt = await getAttempt(trx, lease.runId, lease.attempt, ctx.db.dialect === 'postgres');
      if (!attempt || attempt.lease_token !== lease.token || attempt.state !== 'running' || Number(attempt.lease_expires_at) < now) {
        refused.push(lease);
        continue;
      }
      await trx
        .updateTable('attempts')
        .set({ lease_expires_at: now + ctx.settings.leaseMs })
        .where('run_id', '=', lease.runId)
        .where('number', '=', lease.attempt)
        .execute();
      const run = await getRun(trx, lease.runId);
      if (run?.cancel_requested === 1) cancel.push(lease.runId);
    }
  });
  return { refused, cancel };
}

/** Stores log lines of many attempts in one transaction; lines of stale leases are refused, the rest kept. */
export async function appendLogsMany(ctx: Ctx, items: readonly { lease: LeaseRef; lines: readonly LogLine[] }[]): Promise<{ stale: LeaseRef[] }> {
  const stale: LeaseRef[] = [];
  const stored: { runId: string; seq: number }[] = [];
  await ctx.db.tx(async (trx) => {
    for (const { lease, lines } of items) {
      if (lines.length === 0) continue;
      const attempt = await getAttempt(trx, lease.runId, lease.attempt);
      if (!attempt || attempt.lease_token !== lease.token || attempt.state !== 'running') {
        stale.push(lease);
        continue;
      }
      await insertLogChunk(trx, lease.runId, lease.attempt, lines);
      const last = lines[lines.length - 1];
      if (last) stored.push({ runId: lease.runId, seq: last.seq });
    }
  });
  for (const s of stored) ctx.bus.emit('logs', s);
  return { stale };
}

export async function appendLogs(ctx: Ctx, lease: LeaseRef, lines: readonly LogLine[]): Promise<void> {
  const { stale } = await appendLogsMany(ctx, [{ lease, lines }]);
  if (stale.length > 0) throw new KairosError('stale_lease', `lease on run ${lease.runId} attempt ${lease.attempt} is no longer valid`);
}

/** Ends an attempt and moves the run on: to a terminal state, or back to the queue for a retry. */
async function endAttempt(ctx: Ctx, trx: Q, run: RunRow, attempt: AttemptRow, outcome: AttemptOutcome, exitCode: number | null, reason: string | null, now: number): Promise<{ state: RunState; requeued: boolean }> {
  await trx
    .updateTable('attempts')
    .set({ state: outcome, finished_at: now, exit_code: exitCode, reason })
    .where('run_id', '=', attempt.run_id)
    .where('number', '=', attempt.number)
    .execute();
  const manifest = await ctx.manifestOf(run.deployment_id, trx);
  const spec = manifest.jobs[run.job];
  if (!spec) throw new Error(`deployment ${run.deployment_id} lost job ${run.job}`);
  const t = transition(
    { state: run.state as RunState, attempt: run.attempt, cancelRequested: run.cancel_requested === 1 },
    { kind: 'attempt_ended', outcome, retry: spec.retries, random: ctx.random() },
    now,
  );
  if (!t.ok) throw new KairosError('conflict', t.error);
  const requeue = t.effects.find((e) => e.kind === 'requeue');
  const patch: Partial<RunsTable> = { state: t.next.state, exit_code: exitCode };
  if (requeue && requeue.kind === 'requeue') {
    Object.assign(patch, { attempt: requeue.attempt, not_before: requeue.notBefore, reason: t.reason ?? reason });
  } else {
    Object.assign(patch, { finished_at: now, reason: t.next.state === 'cancelled' ? (run.reason ?? 'cancelled') : reason });
  }
  await trx.updateTable('runs').set(patch).where('id', '=', run.id).execute();
  // Alerts are enqueued with the run's end, in the same transaction: one exists exactly when the end does.
  if (!requeue) await enqueueRunEnded(trx, { ...run, ...patch }, spec, now);
  return { state: t.next.state, requeued: requeue !== undefined };
}

/**
 * Ends an attempt; with `next`, also claims the worker's next runs in the same transaction (the slot this
 * attempt frees is filled without another round trip).
 */
export async function finish(ctx: Ctx, lease: LeaseRef, result: AttemptResult, next?: ClaimRequest): Promise<Assignment[]> {
  const ended = await ctx.db.tx(async (trx) => {
    const { attempt, run } = await requireLease(trx, lease, ctx.db.dialect === 'postgres');
    const now = ctx.now();
    if (result.started) await recordStart(ctx, trx, lease, result.started);
    if (result.environment) {
      await trx
        .updateTable('attempts')
        .set({ env_hash: String(result.environment.hash).slice(0, 80), env_packages_json: packagesJson(result.environment.packages) })
        .where('run_id', '=', lease.runId)
        .where('number', '=', lease.attempt)
        .execute();
    }
    for (let i = 0; i < result.metrics.length; i += 100) {
      const chunk = result.metrics.slice(i, i + 100).map((m) => ({ run_id: run.id, attempt: attempt.number, name: m.name, value: m.value, step: m.step, ts: m.ts }));
      await trx.insertInto('metrics').values(chunk).execute();
    }
    for (let i = 0; i < result.artifacts.length; i += 100) {
      const chunk = result.artifacts.slice(i, i + 100).map((a) => ({ run_id: run.id, attempt: attempt.number, path: a.path, size: a.size, sha256: a.sha256 }));
      await trx.insertInto('artifacts').values(chunk).onConflict((oc) => oc.doNothing()).execute();
    }
    const end = await endAttempt(ctx, trx, run, attempt, result.outcome, result.exitCode, result.reason, now);
    await enqueueMetricAlerts(ctx, trx, run, attempt.number, result.metrics, now);
    const claimed = next ? await claimInTx(ctx, trx, next) : [];
    return { ...end, claimed };
  });
  ctx.bus.emit('run', { id: lease.runId, state: ended.state });
  const assignments = await toAssignments(ctx, ended.claimed);
  // Others may use the freed capacity, unless this worker just filled it from a queue that had more.
  if (ended.requeued || !next || ended.claimed.length < next.max) ctx.bus.emit('work');
  return assignments;
}

export async function abandon(ctx: Ctx, lease: LeaseRef, reason: string): Promise<void> {
  const ended = await ctx.db.tx(async (trx) => {
    const { attempt, run } = await requireLease(trx, lease, ctx.db.dialect === 'postgres');
    return endAttempt(ctx, trx, run, attempt, 'lost', null, reason, ctx.now());
  });
  ctx.bus.emit('run', { id: lease.runId, state: ended.state });
  ctx.bus.emit('work');
}

/** Attempts whose lease expired are lost: the run is retried or failed by its policy. Returns how many. */
export async function reapExpired(ctx: Ctx): Promise<number> {
  const changed = await ctx.db.tx(async (trx) => {
    const now = ctx.now();
    await extendLeasesAfterOutage(ctx, trx, now);
    // PostgreSQL: attempts another control plane is reaping (or a worker is finishing) are locked: skip them.
    const expired = await expiredAttempts(trx, now, ctx.db.dialect === 'postgres');
    const out: { id: string; state: RunState }[] = [];
    for (const attempt of expired) {
      const run = await getRun(trx, attempt.run_id);
      if (!run || run.state !== 'running' || run.attempt !== attempt.number) {
        await trx.updateTable('attempts').set({ state: 'lost', finished_at: now, reason: 'lease expired' }).where('run_id', '=', attempt.run_id).where('number', '=', attempt.number).execute();
        continue;
      }
      const ended = await endAttempt(ctx, trx, run, attempt, 'lost', null, `lost: lease expired (worker ${attempt.worker_id} stopped reporting)`, now);
      out.push({ id: run.id, state: ended.state });
    }
    return out;
  });
  for (const c of changed) ctx.bus.emit('run', c);
  if (changed.length > 0) ctx.bus.emit('work');
  return changed.length;
}

export async function workerLiveAttempts(ctx: Ctx, workerId: string): Promise<{ lease: LeaseRef; pid: number | null; procStart: string | null }[]> {
  const rows = await liveAttemptsOfWorker(ctx.db.kysely, workerId);
  return rows.map((a) => ({ lease: { runId: a.run_id, attempt: a.number, token: a.lease_token }, pid: a.pid, procStart: a.proc_start }));
}

