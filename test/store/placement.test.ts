/**
 * Placement in the store, on both dialects: a worker that said what it offers is handed only runs that fit it,
 * never more at once than it offers; a run no live worker can take has a waiting reason; start_timeout ends it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engine } from '../../src/control/engine.js';
import { expireUnstarted, waitingReasons } from '../../src/control/dispatch/index.js';
import { compileManifestText } from '../../src/manifest/index.js';
import { openDb, type Clock, type Dialect } from '../../src/store/db.js';
import { getRun } from '../../src/store/runs.js';
import { dialectTest, freshTarget } from '../dialects.js';
import { tempDir, writeProject } from '../helpers.js';

const YAML = `project: q
jobs:
  gpu:
    run: "true"
    resources: {gpu: 1}
  huge:
    run: "true"
    resources: {memory: 64Gi}
    start_timeout: 1m
`;

const GiB = 1024 ** 3;
const WORKER = { id: 'w1', host: 'vm', pools: ['default'], capacity: 8, version: 't', place: 'local', offer: { cpu: 4, memoryBytes: 23 * GiB, gpu: 2, maxTimeMs: null, slots: 8 } };

/** YAML deployed on a fresh database, with worker w1 (4 cpu, 23Gi, 2 GPUs) registered. */
async function deployed(dialect: Dialect, clock?: Clock) {
  const dir = tempDir('kairos-placement-');
  writeProject(dir.path, { 'kairos.yaml': YAML });
  const db = await openDb(await freshTarget(dialect, join(dir.path, 'data')), clock ? { clock } : {});
  const engine = new Engine({ db, dataDir: join(dir.path, 'data'), leaseMs: 10_000, random: () => 0.5 });
  const compiled = compileManifestText(YAML, 'kairos.yaml');
  assert.ok(compiled.ok);
  await engine.deploy(dir.path, compiled.manifest, 'test');
  await engine.registerWorker(WORKER);
  return { dir, db, engine };
}

dialectTest('a 2-GPU worker gets two 1-GPU runs at once, a run too big for it waits with a reason and ends at its start_timeout', async (dialect: Dialect) => {
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const { dir, db, engine } = await deployed(dialect, { now: () => clock.t });
  try {
    const gpuRuns = [];
    for (let i = 0; i < 3; i++) gpuRuns.push(await engine.createRun({ job: 'gpu', trigger: 'manual' }));
    const huge = await engine.createRun({ job: 'huge', trigger: 'manual' });
    const claimed = await engine.claim('w1', ['default'], 8);
    assert.deepEqual(claimed.map((a) => a.run.job), ['gpu', 'gpu'], 'two 1-GPU runs on 2 GPUs, and not the 64Gi run');
    assert.equal((await engine.claim('w1', ['default'], 8)).length, 0, 'no third GPU run while two run');
    const why = await waitingReasons(engine.ctx, db.kysely, [(await getRun(db.kysely, huge.id))!]);
    assert.equal(why.get(huge.id), 'no worker in pool default offers memory 64Gi (largest: 23Gi on local@vm)');
    // The third GPU run, once one of the two ends.
    const first = claimed[0]!;
    await engine.finish(first.lease, { outcome: 'succeeded', exitCode: 0, reason: null, reasonCode: null, metrics: [], artifacts: [] });
    assert.deepEqual((await engine.claim('w1', ['default'], 8)).map((a) => a.run.id), [gpuRuns[2]?.id]);
    assert.equal(await expireUnstarted(engine.ctx), 0, 'not yet');
    clock.t += 61_000;
    await engine.registerWorker(WORKER);
    assert.equal(await expireUnstarted(engine.ctx), 1);
    const ended = (await getRun(db.kysely, huge.id))!;
    assert.equal(ended.state, 'failed');
    assert.equal(ended.reason_code, 'start_timeout');
    assert.equal(ended.reason, 'not started within 1m (start_timeout): no worker in pool default offers memory 64Gi (largest: 23Gi on local@vm)');
  } finally {
    await db.close();
    dir.cleanup();
  }
});

dialectTest('a run that fits is claimed behind more queued runs that do not fit than the first read of candidates holds', async (dialect: Dialect) => {
  const { dir, db, engine } = await deployed(dialect);
  try {
    // Twelve runs too big for the worker, older than the one that fits.
    for (let i = 0; i < 12; i++) await engine.createRun({ job: 'huge', trigger: 'manual' });
    const gpu = await engine.createRun({ job: 'gpu', trigger: 'manual' });
    assert.deepEqual((await engine.claim('w1', ['default'], 1)).map((a) => a.run.id), [gpu.id]);
    assert.equal((await engine.claim('w1', ['default'], 1)).length, 0);
  } finally {
    await db.close();
    dir.cleanup();
  }
});
