/**
 * Multi-row statements for the scheduler's bulk writes (the runs, ledger entries and cursor moves of thousands
 * of schedules due at one instant). The SQL text of a statement of n rows is built once per dialect and kept;
 * the parameters are passed as a flat array. Building these statements through the query builder's compiler
 * (one node per bound value, 24 values a run) cost more than the database took to run them.
 */
import { CompiledQuery, sql } from 'kysely';
import type { Q } from './runs.js';

/** Statement texts by dialect placeholder style, statement and row count. */
const texts = new Map<string, string>();

/** The dialect's placeholder style: `?` (SQLite) or `$1` (PostgreSQL), asked of its compiler. */
function placeholderStyle(q: Q): '?' | '$' {
  return sql`${0}`.compile(q).sql.startsWith('$') ? '$' : '?';
}

export interface RowsStatement {
  /** A name for the statement (with the row count, the key of its cached text). */
  readonly name: string;
  /** The text before the rows, with `?` placeholders. */
  readonly head: string;
  /** One row, with `?` placeholders, such as `(?, ?, cast(? as bigint))`. */
  readonly row: string;
  /** The text after the rows, with `?` placeholders. */
  readonly tail: string;
}

/**
 * Executes `s` with `rows` rows. `params` holds the head's parameters, then each row's, then the tail's, in
 * the order of their placeholders.
 */
export async function executeRows(q: Q, s: RowsStatement, rows: number, params: readonly unknown[]): Promise<void> {
  const style = placeholderStyle(q);
  const key = `${style}:${s.name}:${rows}`;
  let text = texts.get(key);
  if (text === undefined) {
    const plain = `${s.head} ${Array.from({ length: rows }, () => s.row).join(', ')} ${s.tail}`;
    let n = 0;
    // No statement here has a literal `?`: every one is a placeholder.
    text = style === '$' ? plain.replace(/\?/g, () => `$${++n}`) : plain;
    if (texts.size >= 1000) texts.clear();
    texts.set(key, text);
  }
  await q.executeQuery(CompiledQuery.raw(text, [...params]));
}
