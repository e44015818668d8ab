/**
 * What a worker reports about an attempt under its lease: that its process started, its log lines, how it
 * ended (with its metrics and artifacts), or that it was lost. Each report passes `requireLease` (or
 * `leaseHolder`) in the transaction that applies it.
 */
import { inferReasonCode, isReasonCode, type ReasonCode } from '../../model/reasons.js';
import { insertLogChunk } from '../../store/logs.js';
import type { Q } from '../../store/runs.js';
import type { Assignment, AttemptResult, LeaseRef, LogLine, StartedInfo } from '../../protocol/worker.js';
import type { Ctx } from '../context.js';
import { enqueueMetricAlerts } from '../alerts.js';
import { claimInTx, toAssignments, type ClaimRequest, type ClaimSight } from './claims.js';
import { endAttempt } from './end.js';
import { leaseHolder, requireLease, staleLease } from './leases.js';
import { artifactRows } from '../artifacts.js';
import { recordPackageUsage } from '../../pypi/usage.js';

/** The attempt's columns a start report writes: the worker's own stamp of the moment the process started (same machine: same clock). */
function startColumns(ctx: Ctx, info: StartedInfo) {
  return { started_at: Number.isFinite(info.startedAt) ? info.startedAt : ctx.now(), pid: info.pid, proc_start: info.procStart };
}

async function recordStart(ctx: Ctx, trx: Q, lease: LeaseRef, info: StartedInfo): Promise<void> {
  await trx
    .updateTable('attempts')
    .set(startColumns(ctx, info))
    .where('run_id', '=', lease.runId)
    .where('number', '=', lease.attempt)
    .execute();
}

export async function markStarted(ctx: Ctx, lease: LeaseRef, info: StartedInfo): Promise<void> {
  await ctx.db.tx(async (trx) => {
    await requireLease(trx, lease, { lock: ctx.db.dialect === 'postgres' });
    await recordStart(ctx, trx, lease, info);
  });
}

/** Stores log lines of many attempts in one transaction; lines of stale leases are refused, the rest kept. */
export async function appendLogsMany(ctx: Ctx, items: readonly { lease: LeaseRef; lines: readonly LogLine[] }[]): Promise<{ stale: LeaseRef[] }> {
  const stale: LeaseRef[] = [];
  const stored: { runId: string; seq: number }[] = [];
  await ctx.db.tx(async (trx) => {
    for (const { lease, lines } of items) {
      if (lines.length === 0) continue;
      if (!(await leaseHolder(trx, lease))) {
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
  if (stale.length > 0) throw staleLease(lease);
}

/** A worker's package list as stored: only {name, version} strings (it may have come over the network). */
function packagesJson(packages: unknown): string | null {
  if (!Array.isArray(packages)) return null;
  const clean = packages
    .filter((p): p is { name: string; version: string } => typeof p === 'object' && p !== null && typeof p.name === 'string' && typeof p.version === 'string')
    .map((p) => ({ name: p.name, version: p.version }));
  return JSON.stringify(clean);
}

/** The code a worker gave, when it is one of ours; else what its outcome and exit code tell (an older worker). */
function reasonCodeOf(result: AttemptResult): ReasonCode | null {
  if (result.outcome === 'succeeded') return null;
  return isReasonCode(result.reasonCode) ? result.reasonCode : inferReasonCode(result.outcome, result.exitCode);
}

/**
 * Ends an attempt; with `next`, also claims the worker's next runs in the same transaction (the slot this
 * attempt frees is filled without another round trip).
 */
export async function finish(ctx: Ctx, lease: LeaseRef, result: AttemptResult, next?: ClaimRequest): Promise<Assignment[]> {
  // Limits and the store's answers are read before the transaction (S3 requests must not hold the write lock).
  const artifacts = await artifactRows(ctx, lease, result.artifacts);
  const sight: ClaimSight = { passedOver: false };
  const ended = await ctx.db.tx(async (trx) => {
    const { attempt, run } = await requireLease(trx, lease, { lock: ctx.db.dialect === 'postgres' });
    const now = ctx.now();
    if (result.environment) {
      await trx
        .updateTable('attempts')
        .set({
          env_hash: String(result.environment.hash).slice(0, 80),
          env_packages_json: packagesJson(result.environment.packages),
          ...(result.environment.image ? { env_image_json: JSON.stringify({ ref: result.environment.image.ref, digest: result.environment.image.digest }) } : {}),
        })
        .where('run_id', '=', lease.runId)
        .where('number', '=', lease.attempt)
        .execute();
      await recordPackageUsage(trx, lease.runId, lease.attempt, result.environment.packages ?? [], now);
    }
    for (let i = 0; i < result.metrics.length; i += 100) {
      const chunk = result.metrics.slice(i, i + 100).map((m) => ({ run_id: run.id, attempt: attempt.number, name: m.name, value: m.value, step: m.step, ts: m.ts }));
      await trx.insertInto('metrics').values(chunk).execute();
    }
    for (let i = 0; i < artifacts.length; i += 100) {
      const chunk = artifacts.slice(i, i + 100).map((a) => ({ run_id: run.id, attempt: attempt.number, path: a.path, size: a.size, sha256: a.sha256, content_type: a.content_type, stored: a.stored }));
      await trx.insertInto('artifacts').values(chunk).onConflict((oc) => oc.doNothing()).execute();
    }
    const end = await endAttempt(ctx, trx, run, attempt, { outcome: result.outcome, exitCode: result.exitCode, reason: result.reason, reasonCode: reasonCodeOf(result), ...(result.started ? { started: startColumns(ctx, result.started) } : {}) }, now);
    await enqueueMetricAlerts(ctx, trx, run, attempt.number, result.metrics, now);
    const claimed = next ? await claimInTx(ctx, trx, next, sight) : [];
    // The freed capacity of a pool this claim did not look at is for others to take.
    if (next && !next.pools.includes(run.pool)) sight.passedOver = true;
    return { ...end, claimed };
  });
  ctx.bus.emit('run', { id: lease.runId, state: ended.state });
  const assignments = await toAssignments(ctx, ended.claimed);
  // Others may use the freed capacity, unless this worker just filled it, or its claim saw every due run of
  // the pool and took them all (nothing is left for another worker: waking every long-poll, and on
  // PostgreSQL a NOTIFY to every other control plane, would only have them look and find nothing).
  if (ended.requeued || !next || (ended.claimed.length < next.max && sight.passedOver)) ctx.bus.emit('work');
  return assignments;
}

/** Codes a worker may give an attempt it gives up; anything else is recorded as `lost`. */
const ABANDON_CODES: ReadonlySet<ReasonCode> = new Set(['lost', 'node_failure', 'shutdown']);

/** The worker gave the attempt up (its process is gone): the attempt is lost, the run retried or failed by policy. */
export async function abandon(ctx: Ctx, lease: LeaseRef, reason: string, reasonCode: unknown = 'lost'): Promise<void> {
  const code: ReasonCode = isReasonCode(reasonCode) && ABANDON_CODES.has(reasonCode) ? reasonCode : 'lost';
  const ended = await ctx.db.tx(async (trx) => {
    const { attempt, run } = await requireLease(trx, lease, { lock: ctx.db.dialect === 'postgres' });
    return endAttempt(ctx, trx, run, attempt, { outcome: 'lost', exitCode: null, reason, reasonCode: code }, ctx.now());
  });
  ctx.bus.emit('run', { id: lease.runId, state: ended.state });
  ctx.bus.emit('work');
}
