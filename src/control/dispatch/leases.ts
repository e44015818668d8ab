/**
 * Leases: the one check every lease-bearing report goes through (`requireLease`, or `leaseHolder` where a
 * stale lease is an answer rather than an error), and their renewal by heartbeats. A report is checked in
 * the same transaction that applies it, so a worker that comes back after its lease was given up cannot
 * change anything.
 */
import { sql } from 'kysely';
import { KairosError } from '../../model/errors.js';
import { getAttempt, getRun, type AttemptRow, type Q, type RunRow } from '../../store/runs.js';
import type { HeartbeatReply, LeaseRef } from '../../protocol/worker.js';
import type { Ctx } from '../context.js';
import { probesOf } from '../network.js';

export interface LeaseCheck {
  /** PostgreSQL: lock the attempt (and the run), so a reaper on another control plane cannot end it meanwhile. */
  readonly lock?: boolean;
  /** Also refuse a lease that expired before this instant, even if the reaper has not ended its attempt yet. */
  readonly liveAt?: number;
}

export function staleLease(lease: LeaseRef, why = 'is no longer valid'): KairosError {
  return new KairosError('stale_lease', `lease on run ${lease.runId} attempt ${lease.attempt} ${why}`);
}

/** Whether `attempt` is the running attempt `lease` holds (right token, not ended, not expired before `liveAt`). */
function holds(attempt: AttemptRow | undefined, lease: LeaseRef, check: LeaseCheck): attempt is AttemptRow {
  if (!attempt || attempt.lease_token !== lease.token || attempt.state !== 'running') return false;
  return check.liveAt === undefined || Number(attempt.lease_expires_at) >= check.liveAt;
}

/** The running attempt a lease names, or null when the lease is stale (wrong token, attempt ended, expired). */
export async function leaseHolder(trx: Q, lease: LeaseRef, check: LeaseCheck = {}): Promise<AttemptRow | null> {
  const attempt = await getAttempt(trx, lease.runId, lease.attempt, check.lock === true);
  return holds(attempt, lease, check) ? attempt : null;
}

/** The live attempt a lease names and its run, or a `stale_lease` error. */
export async function requireLease(trx: Q, lease: LeaseRef, check: LeaseCheck = {}): Promise<{ attempt: AttemptRow; run: RunRow }> {
  if (check.lock) return requireLeaseLocked(trx, lease, check);
  const attempt = await leaseHolder(trx, lease, check);
  if (!attempt) throw staleLease(lease);
  const run = await getRun(trx, lease.runId);
  if (!run) throw staleLease(lease, 'names a run that is gone');
  return { attempt, run };
}

/**
 * `requireLease` with both rows locked (PostgreSQL), in one statement: the attempt's row and its run's, locked
 * in that order (a join's FOR UPDATE locks its tables' rows in the order the query names them), as the two
 * statements it replaces did. The attempt comes back as JSON, so that its columns do not clash with the run's.
 */
async function requireLeaseLocked(trx: Q, lease: LeaseRef, check: LeaseCheck): Promise<{ attempt: AttemptRow; run: RunRow }> {
  const row = await trx
    .selectFrom('attempts as a')
    .innerJoin('runs as r', 'r.id', 'a.run_id')
    .selectAll('r')
    .select(sql<AttemptRow>`to_jsonb(a)`.as('attempt_json'))
    .where('a.run_id', '=', lease.runId)
    .where('a.number', '=', lease.attempt)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw staleLease(lease);
  const { attempt_json: attempt, ...run } = row;
  if (!holds(attempt, lease, check)) throw staleLease(lease);
  return { attempt, run };
}

/**
 * After the database was unavailable (locked, down, disk full), workers could not renew their leases: the
 * first heartbeat or reaper transaction that gets through extends every running attempt's lease by one lease
 * period from now, so no run is lost only because the database was. The same after this control plane stalled
 * or its clock stepped ahead (clock-watch.ts).
 */
export async function extendLeasesAfterOutage(ctx: Ctx, trx: Q, now: number): Promise<void> {
  const availability = ctx.db.availability;
  // After a stall of this control plane, or a step of its clock, no worker went quiet: the time nobody could
  // hear them is given back to every running lease.
  const lapse = ctx.clockWatch.lapse(now, ctx.db.clock.mono?.(), ctx.settings.leaseMs / 2);
  if (lapse > 0) await trx.updateTable('attempts').set({ lease_expires_at: sql`lease_expires_at + ${lapse}` }).where('state', '=', 'running').execute();
  if (!availability.recoveryPending) return;
  await trx.updateTable('attempts').set({ lease_expires_at: now + ctx.settings.leaseMs }).where('state', '=', 'running').where('lease_expires_at', '<', now + ctx.settings.leaseMs).execute();
  availability.recoveryPending = false;
}

/** Renews the leases a worker still holds; says which it no longer holds and which of its runs must cancel. */
export async function heartbeat(ctx: Ctx, workerId: string, leases: readonly LeaseRef[]): Promise<HeartbeatReply> {
  const refused: LeaseRef[] = [];
  const cancel: string[] = [];
  await ctx.db.tx(async (trx) => {
    const now = ctx.now();
    await extendLeasesAfterOutage(ctx, trx, now);
    await trx.updateTable('workers').set({ heartbeat_at: now }).where('id', '=', workerId).execute();
    for (const lease of leases) {
      let held: { attempt: AttemptRow; run: RunRow };
      try {
        held = await requireLease(trx, lease, { lock: ctx.db.dialect === 'postgres', liveAt: now });
      } catch (err) {
        if (!(err instanceof KairosError && err.code === 'stale_lease')) throw err;
        refused.push(lease);
        continue;
      }
      await trx
        .updateTable('attempts')
        .set({ lease_expires_at: now + ctx.settings.leaseMs })
        .where('run_id', '=', lease.runId)
        .where('number', '=', lease.attempt)
        .execute();
      if (held.run.cancel_requested === 1) cancel.push(lease.runId);
    }
  });
  const probes = probesOf(ctx).take(workerId);
  return { refused, cancel, ...(probes.length > 0 ? { probes } : {}) };
}
