/**
 * A job's runs by logical time, as the metric charts read them, on SQLite and a real PostgreSQL: newest logical
 * time first (a backfill made today counts at its old tick), a range, a trigger filter, a window that says
 * when it cut runs off, legacy runs without a logical time at their creation; and on SQLite one index range
 * scan, never a sort of the job's history.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDb, openSqlite } from '../../src/store/db.js';
import { insertRunRow, type RunRow } from '../../src/store/runs.js';
import { logicalRunsQuery, runsByLogicalTime } from '../../src/api/job-metrics.js';
import { dialectTest, freshTarget } from '../dialects.js';
import { tempDir } from '../helpers.js';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const DAY = 86_400_000;

function row(id: string, trigger: string, scheduledFor: number | null, createdAt: number, job = 'train'): RunRow {
  return {
    id, project: 'p', job, deployment_id: 'd', bundle_hash: 'h', state: 'succeeded', trigger, attempt: 1, params_json: '{}',
    scheduled_for: scheduledFor, schedule_id: null, pool: 'default', serial: 0, cancel_requested: 0, rerun_of: null, created_at: createdAt,
    not_before: createdAt, started_at: null, finished_at: null, exit_code: null, reason: null, reason_code: null, log_seq: 0, resources_json: null,
  };
}

// Created in this order (days after T0): scheduled runs on days 20 and 21, a manual run on day 22, a backfill
// of days 1-3 made on day 23, a legacy manual run (no logical time) made on day 10, another job's run.
const ROWS = [
  row('s20', 'schedule', T0 + 20 * DAY, T0 + 20 * DAY),
  row('s21', 'schedule', T0 + 21 * DAY, T0 + 21 * DAY),
  row('m22', 'manual', T0 + 22 * DAY, T0 + 22 * DAY),
  row('b01', 'backfill', T0 + 1 * DAY, T0 + 23 * DAY),
  row('b02', 'backfill', T0 + 2 * DAY, T0 + 23 * DAY),
  row('b03', 'backfill', T0 + 3 * DAY, T0 + 23 * DAY),
  row('l10', 'manual', null, T0 + 10 * DAY),
  row('x05', 'manual', T0 + 5 * DAY, T0 + 5 * DAY, 'other'),
];

dialectTest("a job's runs by logical time: newest first, in range, by trigger, windowed", async (dialect) => {
  const dir = tempDir();
  const db = await openDb(await freshTarget(dialect, dir.path));
  try {
    for (const r of ROWS) await insertRunRow(db.kysely, r);
    const ids = async (q: Partial<Parameters<typeof runsByLogicalTime>[1]>) => {
      const res = await runsByLogicalTime(db.kysely, { project: 'p', job: 'train', limit: 100, ...q });
      return { ids: res.runs.map((r) => r.id), truncated: res.truncated };
    };
    assert.deepEqual(await ids({}), { ids: ['m22', 's21', 's20', 'l10', 'b03', 'b02', 'b01'], truncated: false });
    assert.deepEqual(await ids({ limit: 3 }), { ids: ['m22', 's21', 's20'], truncated: true });
    assert.deepEqual(await ids({ from: T0 + 2 * DAY, to: T0 + 10 * DAY }), { ids: ['l10', 'b03', 'b02'], truncated: false });
    assert.deepEqual(await ids({ from: T0 + 15 * DAY }), { ids: ['m22', 's21', 's20'], truncated: false });
    assert.deepEqual(await ids({ triggers: ['backfill', 'schedule'] }), { ids: ['s21', 's20', 'b03', 'b02', 'b01'], truncated: false });
    assert.deepEqual(await ids({ triggers: ['rerun'] }), { ids: [], truncated: false });
  } finally {
    await db.close();
    dir.cleanup();
  }
});

test('reading a job by logical time is one index range scan, never a sort of its history', async () => {
  const dir = tempDir();
  const db = await openSqlite(join(dir.path, 'kairos.db'));
  try {
    for (const shape of [{}, { from: 1, to: 2 }, { from: 1, triggers: ['manual' as const] }]) {
      const compiled = logicalRunsQuery(db.kysely, { project: 'p', job: 'train', limit: 1000, ...shape }).compile();
      const res = await db.kysely.executeQuery<{ detail: string }>({ ...compiled, sql: `explain query plan ${compiled.sql}` });
      const plan = res.rows.map((r) => r.detail).join(' | ');
      assert.match(plan, /^SEARCH runs USING INDEX runs_job_logical/, plan);
      assert.doesNotMatch(plan, /TEMP B-TREE/, plan);
    }
  } finally {
    await db.close();
    dir.cleanup();
  }
});
