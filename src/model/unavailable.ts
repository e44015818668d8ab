/**
 * Which errors mean the database could not take a write (locked past the busy timeout, down or restarting,
 * disk full): pure classification of error objects, shared by the store (which turns them into
 * `unavailable`), the API (503) and workers (which wait such an outage out instead of giving up).
 */
import { KairosError } from './errors.js';

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

