/**
 * Claims and leases on both dialects, with two control planes (two engines) on one store. On PostgreSQL each
 * has its own connection pool, as replicas do; SQLite has one control plane per file, so there the two share
 * one handle (a second handle in the same thread would wait on the first's write lock and never get it).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engine } from '../../src/control/engine.js';
import { compileManifestText } from '../../src/manifest/index.js';
import { openDb, type Db, type Dialect } from '../../src/store/db.js';
import type { Assignment } from '../../src/protocol/worker.js';
import { dialectTest, freshTarget } from '../dialects.js';
import { tempDir, writeProject } from '../helpers.js';

interface Pair {
  readonly a: Engine;
  readonly b: Engine;
  readonly dbs: Db[];
  readonly clock: { t: number };
  close(): Promise<void>;
}

async function twoPlanes(dialect: Dialect, yaml: string): Promise<Pair> {
  const dir = tempDir('kairos-dispatch-');
  writeProject(dir.path, { 'kairos.yaml': yaml });
  const target = await freshTarget(dialect, join(dir.path, 'data'));
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const opts = { clock: { now: () => clock.t } };
  const dbA = await openDb(target, opts);
  const dbB = dialect === 'postgres' ? await openDb(target, opts) : dbA;
  const a = new Engine({ db: dbA, dataDir: join(dir.path, 'data'), leaseMs: 10_000 });
  const b = new Engine({ db: dbB, dataDir: join(dir.path, 'data'), leaseMs: 10_000 });
  const compiled = compileManifestText(yaml, 'kairos.yaml');
  assert.ok(compiled.ok, JSON.stringify(!compiled.ok && compiled.problems));
  await a.deploy(dir.path, compiled.manifest, 'test');
  return {
    a,
    b,
    dbs: [dbA, dbB],
    clock,
    async close() {
      await dbA.close();
      if (dbB !== dbA) await dbB.close();
      dir.cleanup();
    },
  };
}

const ok = { outcome: 'succeeded' as const, exitCode: 0, reason: null, metrics: [], artifacts: [] };

dialectTest('runs claimed at once by many workers through two control planes are each handed out once', async (dialect) => {
  const p = await twoPlanes(dialect, 'project: q\njobs:\n  j:\n    run: "true"\n');
  try {
    const ids = [];
    for (let i = 0; i < 60; i++) ids.push((await (i % 2 ? p.a : p.b).createRun({ job: 'j', trigger: 'manual' })).id);
    // Eight workers, half on each plane, each claiming up to 5 at a time until the queue is empty.
    const claimedBy = new Map<string, string[]>();
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        const plane = w % 2 ? p.a : p.b;
        for (;;) {
          const got: Assignment[] = await plane.claim(`w${w}`, ['default'], 5);
          if (got.length === 0) return;
          for (const g of got) claimedBy.set(g.run.id, [...(claimedBy.get(g.run.id) ?? []), `w${w}`]);
        }
      }),
    );
    assert.equal(claimedBy.size, 60, 'every run was claimed');
    assert.deepEqual([...claimedBy.values()].filter((ws) => ws.length > 1), [], 'no run was claimed twice');
    const attempts = await p.a.db.kysely.selectFrom('attempts').select(['run_id']).execute();
    assert.equal(attempts.length, 60, 'one attempt per run');
    const states = await p.a.db.kysely.selectFrom('runs').select('state').where('id', 'in', ids).execute();
    assert.ok(states.every((s) => s.state === 'running'));
  } finally {
    await p.close();
  }
});

dialectTest('a pool limit holds across control planes claiming at once', async (dialect) => {
  const p = await twoPlanes(dialect, 'project: l\npools:\n  small: {concurrency: 3}\njobs:\n  j:\n    run: "true"\n    pool: small\n');
  try {
    for (let i = 0; i < 20; i++) await p.a.createRun({ job: 'j', trigger: 'manual' });
    const got = await Promise.all(Array.from({ length: 6 }, (_, w) => (w % 2 ? p.a : p.b).claim(`w${w}`, ['small'], 3)));
    assert.equal(got.flat().length, 3, 'three at once, whichever plane the workers asked');
    // Finishing one frees one slot: the next claim, on the other plane, gets exactly one.
    const first = got.flat()[0];
    assert.ok(first);
    await p.a.finish(first.lease, ok);
    assert.equal((await p.b.claim('w9', ['small'], 3)).length, 1);
  } finally {
    await p.close();
  }
});

dialectTest('an end report wakes other workers only when the claim it carries left a due run they may take', async (dialect) => {
  const p = await twoPlanes(dialect, 'project: w\npools:\n  small: {concurrency: 1}\njobs:\n  j:\n    run: "true"\n  s:\n    run: "true"\n    pool: small\n');
  try {
    let wakes = 0;
    p.a.bus.on('work', () => wakes++);
    // The queue drained: the claim in the report took every due run, so there is nothing to wake anyone for.
    await p.a.createRun({ job: 'j', trigger: 'manual' });
    const [one] = await p.a.claim('w1', ['default'], 4);
    assert.ok(one);
    wakes = 0;
    assert.deepEqual(await p.a.finish(one.lease, ok, { workerId: 'w1', pools: ['default'], max: 4 }), []);
    assert.equal(wakes, 0, 'no wake-up when the queue is empty');
    // A pool at its limit passes a due run over: the report wakes the others (the run may fit elsewhere).
    await p.a.createRun({ job: 's', trigger: 'manual' });
    await p.a.createRun({ job: 's', trigger: 'manual' });
    await p.a.createRun({ job: 'j', trigger: 'manual' });
    const held = await p.a.claim('w2', ['small'], 1);
    assert.equal(held.length, 1);
    const [two] = await p.a.claim('w1', ['default'], 4);
    assert.ok(two);
    wakes = 0;
    assert.deepEqual(await p.a.finish(two.lease, ok, { workerId: 'w1', pools: ['default', 'small'], max: 4 }), []);
    assert.equal(wakes, 1, 'a wake-up when a due run was passed over');
    // Without a claim in the report (a worker stopping), its freed slot is announced as before.
    const [last] = held;
    assert.ok(last);
    wakes = 0;
    await p.a.finish(last.lease, ok);
    assert.equal(wakes, 1);
  } finally {
    await p.close();
  }
});

dialectTest('an expired lease is reaped once when both planes reap at once; the stale worker is refused', async (dialect) => {
  const p = await twoPlanes(dialect, 'project: r\njobs:\n  j:\n    run: "true"\n    retries: {max: 2, delay: 1s, jitter: 0}\n');
  try {
    const run = await p.a.createRun({ job: 'j', trigger: 'manual' });
    const [asg] = await p.b.claim('w1', ['default'], 1);
    assert.ok(asg);
    const hb = await p.a.heartbeat('w1', [asg.lease]);
    assert.deepEqual(hb.refused, [], 'a live lease is renewed');
    p.clock.t += 11_000;
    const reaped = await Promise.all([p.a.reapExpired(), p.b.reapExpired(), p.a.reapExpired(), p.b.reapExpired()]);
    assert.equal(reaped.reduce((x, y) => x + y, 0), 1, 'the attempt is lost once');
    const row = await p.a.db.kysely.selectFrom('runs').select(['state', 'attempt']).where('id', '=', run.id).executeTakeFirstOrThrow();
    assert.deepEqual(row, { state: 'queued', attempt: 2 }, 'requeued for its second attempt, once');
    const late = await p.b.heartbeat('w1', [asg.lease]);
    assert.equal(late.refused.length, 1, 'the worker that lost its lease is told to stop');
    await assert.rejects(p.a.finish(asg.lease, ok), /no longer valid/);
    p.clock.t += 5_000;
    const [again] = await p.a.claim('w2', ['default'], 1);
    assert.equal(again?.lease.attempt, 2);
    await p.b.finish(again.lease, ok);
    const done = await p.b.db.kysely.selectFrom('runs').select(['state', 'attempt']).where('id', '=', run.id).executeTakeFirstOrThrow();
    assert.deepEqual(done, { state: 'succeeded', attempt: 2 });
  } finally {
    await p.close();
  }
});

dialectTest('queue concurrency: two planes never start two runs of the job at once', async (dialect) => {
  const p = await twoPlanes(dialect, 'project: s\njobs:\n  j:\n    run: "true"\n');
  try {
    // The first run is not `serial` itself (as the first tick of a catch-up batch): claiming it must still
    // hold back the serial runs behind it that another plane claims at the same moment.
    // More runs than one claim looks at (it locks a few candidates beyond what it asks for), so claims at
    // once see different runs of the job.
    for (let i = 0; i < 30; i++) await p.a.createRun({ job: 'j', trigger: 'manual', serial: i > 0 });
    const got = await Promise.all(Array.from({ length: 6 }, (_, w) => (w % 2 ? p.a : p.b).claim(`w${w}`, ['default'], 1)));
    assert.equal(got.flat().length, 1, 'one at a time');
  } finally {
    await p.close();
  }
});
