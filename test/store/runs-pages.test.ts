/**
 * Keyset pages of the run history on a real SQLite file: every run once, newest first, ties in created_at
 * broken by id, whatever the filter; and each filter the dashboard offers is an index range, not a scan.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSqlite } from '../../src/store/db.js';
import { insertRunRow, listRuns, runsQuery, type RunRow } from '../../src/store/runs.js';
import { tempDir } from '../helpers.js';

function row(i: number, createdAt: number, over: Partial<RunRow> = {}): RunRow {
  return {
    id: `r${String(i).padStart(4, '0')}`, project: 'p', job: i % 3 === 0 ? 'a' : 'b', deployment_id: 'd', bundle_hash: 'h', state: i % 4 === 0 ? 'failed' : 'succeeded',
    trigger: i % 5 === 0 ? 'backfill' : 'manual', attempt: 1, params_json: '{}', scheduled_for: null, schedule_id: null, pool: 'default', serial: 0,
    cancel_requested: 0, rerun_of: null, created_at: createdAt, not_before: createdAt, started_at: null, finished_at: null, exit_code: null, reason: null, reason_code: null, log_seq: 0, resources_json: null, ...over,
  };
}

test('paging through runs with the cursor gives every run once, newest first, ties broken by id', async () => {
  const dir = tempDir();
  const db = await openSqlite(join(dir.path, 'kairos.db'));
  try {
    // 60 runs over 20 instants: three runs share each created_at.
    for (let i = 0; i < 60; i++) await insertRunRow(db.kysely, row(i, 1_000 + Math.floor(i / 3)));
    const expected = (f: (r: RunRow) => boolean) =>
      Array.from({ length: 60 }, (_, i) => row(i, 1_000 + Math.floor(i / 3))).filter(f).sort((x, y) => y.created_at - x.created_at || (x.id < y.id ? 1 : -1)).map((r) => r.id);
    const filters: [Parameters<typeof listRuns>[1] extends infer F ? Omit<F & object, 'limit' | 'before'> : never, (r: RunRow) => boolean][] = [
      [{}, () => true],
      [{ project: 'p', job: 'a' }, (r) => r.job === 'a'],
      [{ states: ['failed'] }, (r) => r.state === 'failed'],
      [{ trigger: 'backfill' }, (r) => r.trigger === 'backfill'],
      [{ project: 'p', job: 'b', states: ['succeeded'] }, (r) => r.job === 'b' && r.state === 'succeeded'],
      [{ since: 1_005, until: 1_012 }, (r) => r.created_at >= 1_005 && r.created_at < 1_012],
    ];
    for (const [filter, keep] of filters) {
      for (const limit of [1, 2, 7]) {
        const seen: string[] = [];
        let before: { createdAt: number; id: string } | undefined;
        for (;;) {
          const page = await listRuns(db.kysely, { ...filter, limit, before });
          seen.push(...page.map((r) => r.id));
          if (page.length < limit) break;
          const last = page[page.length - 1]!;
          before = { createdAt: Number(last.created_at), id: last.id };
        }
        assert.deepEqual(seen, expected(keep), `${JSON.stringify(filter)} limit ${limit}`);
      }
    }
  } finally {
    await db.close();
    dir.cleanup();
  }
});

test("each of the dashboard's run filters is an index search, never a scan of the table and a sort", async () => {
  const dir = tempDir();
  const db = await openSqlite(join(dir.path, 'kairos.db'));
  try {
    const plans: Record<string, string> = {};
    const shapes: Record<string, Parameters<typeof listRuns>[1]> = {
      'a later page': { limit: 50, before: { createdAt: 5, id: 'x' } },
      job: { project: 'p', job: 'a', limit: 50, before: { createdAt: 5, id: 'x' } },
      state: { states: ['failed'], limit: 50 },
      'job and state': { project: 'p', job: 'a', states: ['failed'], limit: 50 },
      trigger: { trigger: 'backfill', limit: 50 },
      'time range': { since: 1, until: 2, limit: 50 },
    };
    for (const [name, f] of Object.entries(shapes)) {
      const compiled = runsQuery(db.kysely, f).compile();
      const res = await db.kysely.executeQuery<{ detail: string }>({ ...compiled, sql: `explain query plan ${compiled.sql}` });
      plans[name] = res.rows.map((r) => r.detail).join(' | ');
    }
    for (const [name, plan] of Object.entries(plans)) {
      assert.match(plan, /^SEARCH runs USING INDEX/, `${name}: ${plan}`);
      assert.doesNotMatch(plan, /TEMP B-TREE/, `${name}: ${plan}`);
    }
  } finally {
    await db.close();
    dir.cleanup();
  }
});
