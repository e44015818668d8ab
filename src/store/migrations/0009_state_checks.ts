/**
 * 0009: the `state` columns of runs and attempts accept only the states of the run state machine
 * (src/model/run-state.ts), enforced by the database with a CHECK constraint. PostgreSQL adds the constraint
 * to the table; SQLite cannot, so there the table is rebuilt from its own definition with the constraint added
 * (rows, indexes and every column kept), inside one transaction.
 *
 * The lists are frozen here, as the migration shipped: a new state needs a new migration (a test compares
 * them with the model's lists).
 */
import { SqliteAdapter, sql, type Kysely, type Migration } from 'kysely';

export const RUN_STATES_0009 = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped'] as const;
export const ATTEMPT_STATES_0009 = ['running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost'] as const;

const CHECKS = [
  { table: 'runs', name: 'runs_state_check', states: RUN_STATES_0009 },
  { table: 'attempts', name: 'attempts_state_check', states: ATTEMPT_STATES_0009 },
] as const;

/** The dialect guard for the few steps the two dialects cannot share. */
export function isSqlite(db: Kysely<any>): boolean {
  return db.getExecutor().adapter instanceof SqliteAdapter;
}

function checkSql(states: readonly string[]) {
  return sql`state in (${sql.join(states.map((s) => sql.lit(s)))})`;
}

/** SQLite: the table made again with its CHECK, from the definition SQLite keeps for it. */
async function rebuildWithCheck(db: Kysely<any>, table: string, name: string, states: readonly string[]): Promise<void> {
  const def = await sql<{ sql: string }>`select sql from sqlite_master where type = 'table' and name = ${table}`.execute(db);
  const create = def.rows[0]?.sql;
  if (!create) throw new Error(`table ${table} not found`);
  const close = create.lastIndexOf(')');
  const check = `, constraint ${name} check (state in (${states.map((s) => `'${s}'`).join(', ')}))`;
  const createNew = create.slice(0, close).replace(/^create table\s+("?)(\w+)\1/i, `create table "${table}_0009"`) + check + create.slice(close);
  const indexes = await sql<{ sql: string }>`select sql from sqlite_master where type = 'index' and tbl_name = ${table} and sql is not null`.execute(db);
  await sql.raw(createNew).execute(db);
  await sql.raw(`insert into "${table}_0009" select * from "${table}"`).execute(db);
  await sql.raw(`drop table "${table}"`).execute(db);
  await sql.raw(`alter table "${table}_0009" rename to "${table}"`).execute(db);
  for (const ix of indexes.rows) await sql.raw(ix.sql).execute(db);
}

export const m0009: Migration = {
  async up(db: Kysely<any>) {
    if (isSqlite(db)) {
      // SQLite runs migrations outside a transaction: make the rebuild all or nothing.
      await db.transaction().execute(async (trx) => {
        for (const c of CHECKS) await rebuildWithCheck(trx, c.table, c.name, c.states);
      });
      return;
    }
    for (const c of CHECKS) await db.schema.alterTable(c.table).addCheckConstraint(c.name, checkSql(c.states)).execute();
  },
};
