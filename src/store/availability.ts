/**
 * When the database cannot take a write: another process holds SQLite's write lock past the busy timeout,
 * the PostgreSQL server is down or restarting, or the disk under the store is full. Such an error is a
 * stated condition (`unavailable`, HTTP 503 with Retry-After), never a crash or a 500, and the store notes
 * it so that leases which could not be renewed meanwhile are extended once it is back (see dispatch.ts).
 */
import { KairosError } from '../model/errors.js';

export type UnavailableReason = 'busy' | 'down' | 'disk_full';

/** SQLSTATE classes and codes of a server that is gone or refusing: connection exceptions, shutdown, too many clients, out of resources. */
const PG_DOWN_CODES = new Set(['57P01', '57P02', '57P03', '53000', '53200', '53300', '53400']);
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Why the store could not do what it was asked, when the cause is the database's availability; null otherwise. */
export function unavailableReason(err: unknown): UnavailableReason | null {
  if (err instanceof KairosError) return err.code === 'unavailable' ? (((err.details as { reason?: UnavailableReason } | undefined)?.reason) ?? 'down') : null;
  if (typeof err !== 'object' || err === null) return null;
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : '';
  if (typeof code === 'string') {
    // better-sqlite3 (SqliteError): extended result codes such as SQLITE_BUSY_SNAPSHOT.
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'busy';
    if (code === 'SQLITE_FULL') return 'disk_full';
    if (code === 'SQLITE_IOERR_WRITE' || code === 'SQLITE_IOERR_FSYNC' || code === 'SQLITE_IOERR_SHMSIZE') return /no space|full/i.test(message) ? 'disk_full' : 'down';
    // PostgreSQL: disk_full, and the server going away or not accepting connections.
    if (code === '53100') return 'disk_full';
    if (code.startsWith('08') || PG_DOWN_CODES.has(code) || NET_CODES.has(code)) return 'down';
  }
  if (/Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|terminating connection/i.test(message)) return 'down';
  return null;
}

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
