/**
 * Writing a batch of scheduler decisions: ledger entries and cursor moves, several rows per statement. Plain
 * SQL through the dialect's compiler (portable to PostgreSQL), because the query builder took longer to build
 * these statements than the database took to run them, and 10,000 schedules can be due at the same minute.
 */
import { sql } from 'kysely';
import type { TickOutcome } from '../model/tick.js';
import type { Q } from '../store/runs.js';

/** Ledger entries and cursor moves of a batch, written together once every schedule of it is decided. */
export interface BatchWrites {
  readonly ticks: TickRow[];
  readonly cursors: CursorMove[];
}

export interface TickRow {
  readonly scheduleId: string;
  readonly instant: number;
  readonly outcome: TickOutcome;
  readonly reason: string | null;
  readonly runId: string | null;
}

export interface CursorMove {
  readonly id: string;
  readonly cursor: number;
  readonly next: number | null;
}

/** Rows per statement when writing a batch: well below SQLite's and PostgreSQL's limits on bound parameters. */
const ROWS_PER_STATEMENT = 500;

function chunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) out.push(rows.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/**
 * Writes ledger entries. No entry can conflict (the scheduler reads the ledger after each cursor first), but
 * a conflict must never fail a batch: ON CONFLICT DO NOTHING, which SQLite and PostgreSQL both have.
 */
export async function writeTicks(trx: Q, rows: readonly TickRow[], now: number): Promise<void> {
  for (const chunk of chunks(rows)) {
    const values = chunk.map((t) => sql`(${t.scheduleId}, ${t.instant}, ${t.outcome}, ${t.reason}, ${t.runId}, ${Math.max(0, now - t.instant)}, ${now})`);
    await sql`insert into ticks (schedule_id, instant, outcome, reason, run_id, lateness_ms, recorded_at) values ${sql.join(values)} on conflict do nothing`.execute(trx);
  }
}

/** Moves schedules' cursors (every tick up to a cursor is decided) and next fire instants, several per statement. */
export async function moveCursors(trx: Q, moves: readonly CursorMove[], now: number): Promise<void> {
  for (const chunk of chunks(moves)) {
    // The casts type the VALUES columns for PostgreSQL; SQLite accepts them as they are.
    const values = chunk.map((m) => sql`(${m.id}, cast(${m.cursor} as bigint), cast(${m.next} as bigint))`);
    await sql`with v (id, cursor_at, next_fire_at) as (values ${sql.join(values)})
      update schedules set
        cursor_at = (select v.cursor_at from v where v.id = schedules.id),
        next_fire_at = (select v.next_fire_at from v where v.id = schedules.id),
        updated_at = ${now}
      where id in (select id from v)`.execute(trx);
  }
}
