/** What the PostgreSQL dialect promises beyond the shared queries: numbers, identity columns, its clock, deadlock retries. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openDb } from '../../src/store/db.js';
import { createPgDatabase, PG_URL } from '../dialects.js';

const skip = !PG_URL && process.env.CI !== 'true' ? 'PostgreSQL test skipped: KAIROS_TEST_PG_URL is not set (npm test starts a server; see tools/test.mjs)' : false;

test('PostgreSQL: bigint and numeric come back as numbers; identity columns; the clock is the database\'s', { skip }, async () => {
  assert.ok(PG_URL, 'CI=true but KAIROS_TEST_PG_URL is not set: the PostgreSQL tests must run in CI');
  const db = await openDb(await createPgDatabase());
  try {
    assert.equal(db.dialect, 'postgres');
    const { rows } = await sql<{ b: unknown; n: unknown; c: unknown }>`select cast(1780000000123 as bigint) as b, cast(2.5 as numeric) as n, count(*) as c from runs`.execute(db.kysely);
    assert.deepEqual(rows[0], { b: 1780000000123, n: 2.5, c: 0 });
    // metrics.id is autoIncrement() in migration 0001: an identity column here.
    await db.kysely.insertInto('metrics').values([{ run_id: 'r', attempt: 1, name: 'm', value: 1, step: null, ts: 1 }, { run_id: 'r', attempt: 1, name: 'm', value: 2, step: null, ts: 2 }]).execute();
    const ids = (await db.kysely.selectFrom('metrics').select('id').orderBy('id').execute()).map((r) => r.id);
    assert.deepEqual(ids, [1, 2]);
    const before = db.clock.now();
    const { rows: t } = await sql<{ ms: number }>`select floor(extract(epoch from clock_timestamp()) * 1000) as ms`.execute(db.kysely);
    const after = db.clock.now();
    assert.ok(Number.isInteger(before), 'whole milliseconds (bigint columns refuse fractions)');
    // The offset is measured from the midpoint of a round trip, so it is only as good as half the fastest
    // round trip at open: a few ms when quiet, tens of ms with every core busy (seen: 12 ms at load 16).
    const slack = 50;
    assert.ok(Number(t[0]?.ms) >= before - slack && Number(t[0]?.ms) <= after + slack, `the database's clock ${t[0]?.ms} lies within [${before}, ${after}] ± ${slack} ms`);
  } finally {
    await db.close();
  }
});

test('PostgreSQL: two transactions that deadlock both complete: the one the server aborts is run again', { skip, timeout: 60_000 }, async () => {
  assert.ok(PG_URL, 'CI=true but KAIROS_TEST_PG_URL is not set: the PostgreSQL tests must run in CI');
  const db = await openDb(await createPgDatabase());
  try {
    await sql`create table scratch (id integer primary key, v integer not null)`.execute(db.kysely);
    await sql`insert into scratch values (1, 0), (2, 0)`.execute(db.kysely);
    let calls = 0;
    const firstDone: (() => void)[] = [];
    const both = new Promise<void>((r) => {
      let n = 0;
      firstDone.push(() => ++n === 2 && r(), () => ++n === 2 && r());
    });
    const crossing = (a: number, b: number, i: number) =>
      db.tx(async (trx) => {
        calls++;
        await sql`update scratch set v = v + 1 where id = ${a}`.execute(trx);
        firstDone[i]?.();
        await both; // each holds its first row and now wants the other's
        await sql`update scratch set v = v + 1 where id = ${b}`.execute(trx);
      });
    await Promise.all([crossing(1, 2, 0), crossing(2, 1, 1)]);
    assert.equal(calls, 3, 'one of them was run a second time');
    const { rows } = await sql<{ id: number; v: number }>`select id, v from scratch order by id`.execute(db.kysely);
    assert.deepEqual(rows, [{ id: 1, v: 2 }, { id: 2, v: 2 }], 'each applied once');
  } finally {
    await db.close();
  }
});
