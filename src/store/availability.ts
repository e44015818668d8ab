/**
 * When the database cannot take a write: another process holds SQLite's write lock past the busy timeout,
 * the PostgreSQL server is down or restarting, or the disk under the store is full. Such an error is a
 * stated condition (`unavailable`, HTTP 503 with Retry-After), never a crash or a 500, and the store notes
 * it so that leases which could not be renewed meanwhile are extended once it is back (see dispatch.ts).
 */
import { KairosError } from '../model/errors.js';

import { unavailableReason, type UnavailableReason } from '../model/unavailable.js';

export { unavailableReason, type UnavailableReason };

/** How long a client is told to wait before trying again (Retry-After, seconds). */
export const RETRY_AFTER_SECONDS = 2;

const WORDS: Record<UnavailableReason, string> = {
  busy: 'the database is busy (another process holds its write lock)',
  down: 'the database is unavailable (it cannot be reached or is restarting)',
  disk_full: 'the database cannot write: the disk is full',
};

export function unavailableError(reason: UnavailableReason, cause?: unknown): KairosError {
  const detail = cause instanceof Error && !(cause instanceof KairosError) ? `: ${cause.message}` : '';
  return new KairosError('unavailable', `${WORDS[reason]}${detail}; try again shortly`, { reason, retry_after_s: RETRY_AFTER_SECONDS });
}

/** `err` as the stable `unavailable` error when it is one; anything else unchanged. */
export function asUnavailable(err: unknown): unknown {
  if (err instanceof KairosError) return err;
  const reason = unavailableReason(err);
  return reason ? unavailableError(reason, err) : err;
}

/**
 * What the store knows of its database's availability. A failure sets `recoveryPending`; the first write
 * transaction of the lease reaper or a heartbeat after it clears it, having extended the leases of running
 * attempts (their workers could not renew them meanwhile).
 */
export class Availability {
  lastFailureAt: number | null = null;
  lastFailure: UnavailableReason | null = null;
  lastSuccessAt: number | null = null;
  recoveryPending = false;
  /** SQLite only: until then, writes fail at once instead of each waiting out the busy timeout. */
  failFastUntil = 0;

  failed(reason: UnavailableReason, now = Date.now()): void {
    this.lastFailureAt = now;
    this.lastFailure = reason;
    this.recoveryPending = true;
  }

  succeeded(now = Date.now()): void {
    this.lastSuccessAt = now;
  }

  /** True while the last thing the store tried failed for availability. */
  get down(): boolean {
    return this.lastFailureAt !== null && (this.lastSuccessAt === null || this.lastSuccessAt < this.lastFailureAt);
  }
}
