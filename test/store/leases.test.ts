/**
 * The dispatcher's one lease check and its one state writer, on both dialects: every lease-bearing report
 * refuses a stale token and changes nothing; a refused transition writes nothing; the database itself refuses a
 * state the state machine does not know; and each way an attempt ends leaves its reason code.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engine } from '../../src/control/engine.js';
import { compileManifestText } from '../../src/manifest/index.js';
import { ATTEMPT_STATES, RUN_STATE_LIST } from '../../src/model/run-state.js';
import { openDb, type Db, type Dialect } from '../../src/store/db.js';
import { ATTEMPT_STATES_0009, RUN_STATES_0009 } from '../../src/store/migrations/0009_state_checks.js';
import { getRun, listAttempts } from '../../src/store/runs.js';
import { transitionRun } from '../../src/store/transitions.js';
import type { AttemptResult, LeaseRef } from '../../src/protocol/worker.js';
import { dialectTest, freshTarget } from '../dialects.js';
import { tempDir, writeProject } from '../helpers.js';
import { test } from 'node:test';

const YAML = 'project: q\njobs:\n  j:\n    run: "true"\n  again:\n    run: "true"\n    retries: {max: 1, delay: 1s, on: [failed, lost]}\n';

interface Plane {
  readonly engine: Engine;
  readonly db: Db;
  readonly clock: { t: number };
  close(): Promise<void>;
}

async function plane(dialect: Dialect): Promise<Plane> {
  const dir = tempDir('kairos-leases-');
  writeProject(dir.path, { 'kairos.yaml': YAML });
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const db = await openDb(await freshTarget(dialect, join(dir.path, 'data')), { clock: { now: () => clock.t } });
  const engine = new Engine({ db, dataDir: join(dir.path, 'data'), leaseMs: 10_000, random: () => 0.5 });
  const compiled = compileManifestText(YAML, 'kairos.yaml');
  assert.ok(compiled.ok);
  await engine.deploy(dir.path, compiled.manifest, 'test');
  return {
    engine,
    db,
    clock,
    async close() {
      await db.close();
      dir.cleanup();
    },
  };
}

const failed: AttemptResult = { outcome: 'failed', exitCode: 2, reason: 'exit code 2', reasonCode: 'exit_code', metrics: [], artifacts: [] };

async function claimOne(p: Plane, job = 'j') {
  const run = await p.engine.createRun({ job, trigger: 'manual' });
  const [a] = await p.engine.claim('w1', ['default'], 1);
  assert.ok(a && a.run.id === run.id);
  return a;
}

dialectTest('every lease-bearing report refuses a stale token and changes nothing', async (dialect) => {
  const p = await plane(dialect);
  try {
    const a = await claimOne(p);
    const forged: LeaseRef = { ...a.lease, token: 'not-the-token' };
    const wrongAttempt: LeaseRef = { ...a.lease, attempt: 2 };
    const before = await getRun(p.db.kysely, a.run.id);
    for (const stale of [forged, wrongAttempt]) {
      const reports: [string, () => Promise<unknown>][] = [
        ['started', () => p.engine.started(stale, { pid: 1, procStart: null, startedAt: p.clock.t })],
        ['logs', () => p.engine.appendLogs(stale, [{ seq: 1, ts: p.clock.t, stream: 'stdout', line: 'x' }])],
        ['finish', () => p.engine.finish(stale, failed)],
        ['abandon', () => p.engine.abandon(stale, 'lost: test')],
      ];
      for (const [what, report] of reports) await assert.rejects(report(), (err: { code?: string }) => err.code === 'stale_lease', `${what} with a stale lease`);
      assert.deepEqual((await p.engine.appendLogsMany([{ lease: stale, lines: [{ seq: 1, ts: p.clock.t, stream: 'stdout', line: 'x' }] }])).stale, [stale]);
      assert.deepEqual((await p.engine.heartbeat('w1', [stale])).refused, [stale]);
    }
    assert.deepEqual(await getRun(p.db.kysely, a.run.id), before, 'the run is untouched');
    const [attempt] = await listAttempts(p.db.kysely, a.run.id);
    assert.equal(attempt?.state, 'running');
    assert.equal(attempt?.started_at, null);
    // The real lease still works.
    await p.engine.finish(a.lease, { ...failed, outcome: 'succeeded', exitCode: 0, reason: null, reasonCode: null });
    assert.equal((await getRun(p.db.kysely, a.run.id))?.state, 'succeeded');
    // And is stale once the attempt has ended.
    await assert.rejects(p.engine.finish(a.lease, failed), /no longer valid/);
    await assert.rejects(p.engine.started(a.lease, { pid: 1, procStart: null, startedAt: p.clock.t }), /no longer valid/);
  } finally {
    await p.close();
  }
});

dialectTest('a lease past its expiry is refused by the heartbeat even before the reaper ends it', async (dialect) => {
  const p = await plane(dialect);
  try {
    const a = await claimOne(p);
    p.clock.t += 10_001;
    assert.deepEqual((await p.engine.heartbeat('w1', [a.lease])).refused, [a.lease]);
  } finally {
    await p.close();
  }
});

dialectTest('a transition the state machine refuses writes nothing', async (dialect) => {
  const p = await plane(dialect);
  try {
    const a = await claimOne(p);
    await p.engine.finish(a.lease, failed);
    const done = await getRun(p.db.kysely, a.run.id);
    assert.equal(done?.state, 'failed');
    assert.ok(done);
    for (const event of [{ kind: 'start' } as const, { kind: 'attempt_ended', outcome: 'succeeded', retry: { max: 0, delayMs: 0, backoff: 1, maxDelayMs: 0, jitter: 0, on: [] }, random: 0 } as const]) {
      await assert.rejects(p.db.tx((trx) => transitionRun(trx, done, event, p.clock.t, () => ({ reason: 'should not be written' }))), (err: { code?: string }) => err.code === 'conflict');
    }
    assert.deepEqual(await getRun(p.db.kysely, a.run.id), done);
    // Cancelling a finished run is allowed and changes nothing.
    assert.equal((await p.engine.cancelRun(a.run.id)).state, 'failed');
    assert.deepEqual(await getRun(p.db.kysely, a.run.id), done);
  } finally {
    await p.close();
  }
});

dialectTest('the database refuses a run or attempt state the state machine does not know', async (dialect) => {
  const p = await plane(dialect);
  try {
    const a = await claimOne(p);
    const bogus = 'exploded' as never;
    await assert.rejects(p.db.kysely.updateTable('runs').set({ state: bogus }).where('id', '=', a.run.id).execute(), /check|constraint/i);
    await assert.rejects(p.db.kysely.updateTable('attempts').set({ state: bogus }).where('run_id', '=', a.run.id).execute(), /check|constraint/i);
    assert.equal((await getRun(p.db.kysely, a.run.id))?.state, 'running');
    // Every state the machine knows is accepted.
    for (const state of RUN_STATE_LIST) await p.db.kysely.updateTable('runs').set({ state }).where('id', '=', a.run.id).execute();
    for (const state of ATTEMPT_STATES) await p.db.kysely.updateTable('attempts').set({ state }).where('run_id', '=', a.run.id).execute();
  } finally {
    await p.close();
  }
});

test('the CHECK constraints list exactly the state machine\'s states (a new state needs a new migration)', () => {
  assert.deepEqual([...RUN_STATES_0009].sort(), [...RUN_STATE_LIST].sort());
  assert.deepEqual([...ATTEMPT_STATES_0009].sort(), [...ATTEMPT_STATES].sort());
});

dialectTest('reason codes: a lost lease, a retry waiting, a worker shutting down, a cancel before start, an old worker\'s result', async (dialect) => {
  const p = await plane(dialect);
  try {
    // The reaper: the attempt is lost, and the run (no retries) fails with code `lost`.
    const a = await claimOne(p);
    p.clock.t += 10_001;
    assert.equal(await p.engine.reapExpired(), 1);
    const lost = await getRun(p.db.kysely, a.run.id);
    assert.equal(lost?.state, 'failed');
    assert.equal(lost?.reason_code, 'lost');
    assert.equal((await listAttempts(p.db.kysely, a.run.id))[0]?.reason_code, 'lost');

    // A retry waits: the run is queued again with the code of the attempt that failed.
    const b = await claimOne(p, 'again');
    await p.engine.finish(b.lease, failed);
    const waiting = await getRun(p.db.kysely, b.run.id);
    assert.equal(waiting?.state, 'queued');
    assert.equal(waiting?.reason_code, 'exit_code');
    // The second attempt is given up by a worker shutting down: lost again, and the run fails `shutdown`.
    p.clock.t += 2_000;
    const [b2] = await p.engine.claim('w1', ['default'], 1);
    assert.ok(b2);
    await p.engine.abandon(b2.lease, 'lost: the worker shut down before the attempt finished', 'shutdown');
    const shut = await getRun(p.db.kysely, b.run.id);
    assert.equal(shut?.state, 'failed');
    assert.equal(shut?.reason_code, 'shutdown');
    assert.deepEqual((await listAttempts(p.db.kysely, b.run.id)).map((x) => [x.state, x.reason_code]), [['failed', 'exit_code'], ['lost', 'shutdown']]);

    // A queued run cancelled before it started.
    const c = await p.engine.createRun({ job: 'j', trigger: 'manual' });
    const cancelled = await p.engine.cancelRun(c.id);
    assert.equal(cancelled.state, 'cancelled');
    assert.equal(cancelled.reason_code, 'cancelled');

    // A worker from before the codes sends none: the code is inferred from its outcome; a bogus one is not stored.
    const d = await claimOne(p);
    const { reasonCode: _, ...old } = failed;
    await p.engine.finish(d.lease, old);
    assert.equal((await getRun(p.db.kysely, d.run.id))?.reason_code, 'exit_code');
    const e = await claimOne(p);
    await p.engine.finish(e.lease, { ...failed, outcome: 'timed_out', reasonCode: 'bogus' as never });
    assert.equal((await getRun(p.db.kysely, e.run.id))?.reason_code, 'time_limit');
  } finally {
    await p.close();
  }
});
