/**
 * A store from before 0009/0010 (SQLite, where 0009 rebuilds the tables) upgrades with every row, column and
 * index kept, the CHECK constraints in force, and reason codes filled in where the old state and text tell.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { openSqlite } from '../../src/store/db.js';
import { migrationProvider } from '../../src/store/migrations.js';
import { tempDir } from '../helpers.js';

test('a SQLite store at 0008 upgrades: rows, columns and indexes kept, codes backfilled, bogus states refused', async () => {
  const dir = tempDir('kairos-migrate-');
  const file = join(dir.path, 'kairos.db');
  try {
    const raw = new SqliteDatabase(file);
    const old = new Kysely<any>({ dialect: new SqliteDialect({ database: raw }) });
    const to = await new Migrator({ db: old, provider: migrationProvider }).migrateTo('0008_dashboard_indexes');
    assert.equal(to.error, undefined);
    const run = (id: string, state: string, reason: string | null) => ({
      id, project: 'p', job: 'j', deployment_id: 'd', bundle_hash: 'h', state, trigger: 'manual', attempt: 1, params_json: '{}', scheduled_for: 1, schedule_id: null,
      pool: 'default', serial: 0, cancel_requested: 0, rerun_of: null, created_at: 1, not_before: 1, started_at: null, finished_at: null, exit_code: null, reason, log_seq: 0,
    });
    await old.insertInto('runs').values([
      run('r-exit', 'failed', 'exit code 3'),
      run('r-oom', 'failed', 'killed: out of memory (limit 64Mi)'),
      run('r-lost', 'failed', 'lost: lease expired (worker w stopped reporting)'),
      run('r-time', 'timed_out', 'timed out after 1000ms'),
      run('r-ok', 'succeeded', null),
      run('r-odd', 'failed', 'something else'),
    ]).execute();
    await old.insertInto('attempts').values({
      run_id: 'r-lost', number: 1, state: 'lost', worker_id: 'w', lease_token: 't', lease_expires_at: 1, claimed_at: 1, started_at: null, finished_at: 2,
      exit_code: null, reason: 'lost: lease expired', pid: null, proc_start: null, env_hash: 'e', env_packages_json: '[]',
    }).execute();
    await old.destroy();

    const db = await openSqlite(file);
    try {
      const codes = Object.fromEntries((await db.kysely.selectFrom('runs').select(['id', 'reason_code']).execute()).map((r) => [r.id, r.reason_code]));
      assert.deepEqual(codes, { 'r-exit': 'exit_code', 'r-oom': 'out_of_memory', 'r-lost': 'lost', 'r-time': 'time_limit', 'r-ok': null, 'r-odd': null });
      const a = await db.kysely.selectFrom('attempts').selectAll().executeTakeFirstOrThrow();
      assert.equal(a.reason_code, 'lost');
      assert.equal(a.env_hash, 'e', 'columns added by earlier migrations survive the rebuild');
      const indexes = (await db.kysely.selectFrom('sqlite_master' as never).select('name' as never).where('type' as never, '=', 'index' as never).where('tbl_name' as never, '=', 'runs' as never).execute()) as { name: string }[];
      for (const ix of ['runs_created', 'runs_queue', 'runs_state_created', 'runs_trigger_created', 'runs_job_created', 'runs_job_state_created']) {
        assert.ok(indexes.some((i) => i.name === ix), `index ${ix} kept`);
      }
      await assert.rejects(db.kysely.updateTable('runs').set({ state: 'bogus' as never }).where('id', '=', 'r-ok').execute(), /CHECK/);
      // The unique (schedule, instant) key is kept too.
      await assert.rejects(db.kysely.updateTable('runs').set({ schedule_id: 's' }).execute(), /UNIQUE/);
    } finally {
      await db.close();
    }
  } finally {
    dir.cleanup();
  }
});
