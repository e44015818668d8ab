/**
 * Writing a batch of scheduler decisions: ledger entries and cursor moves, several rows per statement, with
 * SQL texts built once (store/bulk.ts), because the query builder took longer to build these statements than
 * the database took to run them, and 10,000 schedules can be due at the same minute.
 */
import { executeRows, type RowsStatement } from '../store/bulk.js';
import type { TickOutcome } from '../model/tick.js';
import type { Q, RunRow } from '../store/runs.js';

/** Runs, ledger entries and cursor moves of a batch, written together once every schedule of it is decided. */
export interface BatchWrites {
  /** Runs of fired ticks (of jobs; a pipeline's runs are inserted as it is decided). */
  readonly runs: RunRow[];
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

/** No entry can conflict (the scheduler reads the ledger after each cursor first), but a conflict must never fail a batch. */
const INSERT_TICKS: RowsStatement = {
  name: 'insert ticks',
  head: 'insert into ticks (schedule_id, instant, outcome, reason, run_id, lateness_ms, recorded_at) values',
  row: '(?, ?, ?, ?, ?, ?, ?)',
  tail: 'on conflict do nothing',
};

/** Writes ledger entries, several per statement (ON CONFLICT DO NOTHING, which SQLite and PostgreSQL both have). */
export async function writeTicks(trx: Q, rows: readonly TickRow[], now: number): Promise<void> {
  for (const chunk of chunks(rows)) {
    const params: unknown[] = [];
    for (const t of chunk) params.push(t.scheduleId, t.instant, t.outcome, t.reason, t.runId, Math.max(0, now - t.instant), now);
    await executeRows(trx, INSERT_TICKS, chunk.length, params);
  }
}

/**
 * An UPDATE ... FROM a VALUES list joined on the primary key (SQLite 3.33 and PostgreSQL both have it): each
 * schedule is found by its key, not by scanning the list. The casts type the VALUES columns for PostgreSQL.
 */
const MOVE_CURSORS: RowsStatement = {
  name: 'move cursors',
  head: 'with v (id, cursor_at, next_fire_at) as (values',
  row: '(?, cast(? as bigint), cast(? as bigint))',
  tail: ') update schedules set cursor_at = v.cursor_at, next_fire_at = v.next_fire_at, updated_at = ? from v where schedules.id = v.id',
};

/** Moves schedules' cursors (every tick up to a cursor is decided) and next fire instants, several per statement. */
export async function moveCursors(trx: Q, moves: readonly CursorMove[], now: number): Promise<void> {
  for (const chunk of chunks(moves)) {
    const params: unknown[] = [];
    for (const m of chunk) params.push(m.id, m.cursor, m.next);
    params.push(now);
    await executeRows(trx, MOVE_CURSORS, chunk.length, params);
  }
}
