/**
 * Leases and time that nobody could hear pass: a step of the control plane's clock, or a stall of the control
 * plane itself, gives running leases that time back instead of losing their attempts; a lease that really
 * lapsed still ends its attempt. And a worker handed a new attempt of a run it still runs kills the old one
 * before it starts the new one: never two live attempts of one run on one machine.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../src/control/engine.js';
import { compileManifestText } from '../../src/manifest/index.js';
import { openDb } from '../../src/store/db.js';
import { getRun, listAttempts } from '../../src/store/runs.js';
import { Worker } from '../../src/worker/worker.js';
import { dialectTest, freshTarget } from '../dialects.js';
import { tempDir, waitFor, writeProject } from '../helpers.js';

const LEASE_MS = 10_000;

dialectTest('a step of the clock or a stall of the control plane is not a lease expiry; a lapsed lease still is', async (dialect) => {
  const dir = tempDir('kairos-lapse-');
  const yaml = 'project: q\njobs:\n  j:\n    run: "true"\n';
  writeProject(dir.path, { 'kairos.yaml': yaml });
  // The wall clock (`now`) and the clock that never jumps (`mono`), both stepped by the test.
  const clock = { t: Date.parse('2026-01-01T00:00:00Z'), m: 1_000 };
  const db = await openDb(await freshTarget(dialect, join(dir.path, 'data')), { clock: { now: () => clock.t, mono: () => clock.m } });
  try {
    const engine = new Engine({ db, dataDir: join(dir.path, 'data'), leaseMs: LEASE_MS, random: () => 0.5 });
    const compiled = compileManifestText(yaml, 'kairos.yaml');
    assert.ok(compiled.ok);
    await engine.deploy(dir.path, compiled.manifest, 'test');
    const run = await engine.createRun({ job: 'j', trigger: 'manual' });
    const [a] = await engine.claim('w1', ['default'], 1);
    assert.ok(a && a.run.id === run.id);
    const expiresAt = async () => Number((await listAttempts(db.kysely, run.id))[0]?.lease_expires_at);
    const step = (wall: number, mono: number) => {
      clock.t += wall;
      clock.m += mono;
    };
    step(1_000, 1_000);
    assert.equal(await engine.reapExpired(), 0);
    const before = await expiresAt();

    // The clock steps a minute ahead (a resumed VM, an NTP step) while 10 ms pass: the lease gets the minute back.
    step(60_000, 10);
    assert.equal(await engine.reapExpired(), 0, 'a step of the clock ended the attempt');
    assert.equal((await getRun(db.kysely, run.id))?.state, 'running');
    assert.ok((await expiresAt()) >= before + 60_000 - 10, 'the lease was given the step back');
    // …and the worker's next heartbeat is taken.
    assert.deepEqual((await engine.heartbeat('w1', [a.lease])).refused, []);

    // The control plane does not run for 20 s (twice the lease): nobody could hear the worker meanwhile.
    const renewed = await expiresAt();
    step(20_000, 20_000);
    assert.equal(await engine.reapExpired(), 0, 'a stall of the control plane ended the attempt');
    assert.ok((await expiresAt()) >= renewed + 20_000);

    // Time passes and is observed (a reaper pass every 2 s) with no heartbeat: the lease lapses after 10 s, not before.
    let passed = 0;
    let reaped = 0;
    while (reaped === 0 && passed < 60_000) {
      step(2_000, 2_000);
      passed += 2_000;
      reaped = await engine.reapExpired();
    }
    assert.equal(reaped, 1);
    assert.ok(passed > LEASE_MS - 2_000 && passed <= LEASE_MS + 2_000, `the lease lapsed after ${passed} ms of silence (lease ${LEASE_MS} ms)`);
    const lost = await getRun(db.kysely, run.id);
    assert.equal(lost?.state, 'failed');
    assert.equal(lost?.reason_code, 'lost');
  } finally {
    await db.close();
    dir.cleanup();
  }
});

dialectTest('a worker given a new attempt of a run it still runs kills the old one before the new one starts', async (dialect) => {
  const dir = tempDir('kairos-lapse-');
  const rec = join(dir.path, 'records.txt');
  // Attempt 1 records its pid and runs until killed; attempt 2 records whether attempt 1's process is still alive.
  const script = [
    `echo "$KAIROS_ATTEMPT $$" >> ${rec}`,
    'if [ "$KAIROS_ATTEMPT" = 1 ]; then exec sleep 300; fi',
    `first=$(awk '$1 == 1 { print $2 }' ${rec})`,
    `if [ -e /proc/$first ] && ! grep -q ') Z' /proc/$first/stat; then echo "first alive" >> ${rec}; else echo "first dead" >> ${rec}; fi`,
  ].join('\n');
  const yaml = `project: q\njobs:\n  j:\n    run: ["sh", "job.sh"]\n    retries: {max: 1, delay: 0s, on: [lost]}\n`;
  writeProject(dir.path, { 'project/kairos.yaml': yaml, 'project/job.sh': script });
  // A wall clock the test steps, with no clock that never jumps: the step is taken as time passing, as when this
  // worker really went unheard for longer than its lease (the case where the control plane rightly moves on).
  const clock = { t: Date.now() };
  const db = await openDb(await freshTarget(dialect, join(dir.path, 'db')), { clock: { now: () => clock.t } });
  const dataDir = join(dir.path, 'data');
  const engine = new Engine({ db, dataDir, leaseMs: LEASE_MS, random: () => 0.5 });
  // No heartbeat during the test: the worker learns that its lease is gone only from the new attempt it is given.
  const errors: string[] = [];
  const worker = new Worker(engine, { id: 'w1', pools: ['default'], capacity: 4, dataDir, version: 'test', leaseMs: LEASE_MS, heartbeatMs: 3_600_000, sandbox: { mode: 'none' }, onError: (err) => errors.push(err instanceof Error ? err.message : String(err)), onNotice: () => {} });
  try {
    const compiled = compileManifestText(yaml, join(dir.path, 'project', 'kairos.yaml'));
    assert.ok(compiled.ok);
    await engine.deploy(join(dir.path, 'project'), compiled.manifest, 'test');
    await worker.start();
    const run = await engine.createRun({ job: 'j', trigger: 'manual' });
    const records = () => (existsSync(rec) ? readFileSync(rec, 'utf8') : '');
    await waitFor('attempt 1 running', () => /^1 \d+$/m.test(records()), 30_000, 20);
    // The lease lapses on the control plane's clock; the reaper gives the attempt up and the run is queued again,
    // and the worker (woken by the new work) claims attempt 2 at once.
    clock.t += LEASE_MS + 1;
    assert.equal(await engine.reapExpired(), 1);
    await waitFor('attempt 2 done', async () => ((await getRun(db.kysely, run.id))?.state === 'succeeded' ? true : null), 60_000, 20);
    assert.match(records(), /^first dead$/m, `attempt 2 started beside attempt 1:\n${records()}`);
    assert.deepEqual((await listAttempts(db.kysely, run.id)).map((x) => x.state), ['lost', 'succeeded']);
    // Said either way it learns: the new attempt handed to it while the old one runs, or (when attempt 1's start
    // report comes after the lapse) the start refused, which kills the old one before the new one is claimed.
    const attempts = await listAttempts(db.kysely, run.id);
    assert.ok(errors.some((e) => e.includes(`run ${run.id} attempt 1`)), `the worker says it dropped attempt 1: ${errors.join('; ')}; attempt 1 ended: ${attempts[0]?.reason}\n${records()}`);
  } finally {
    await worker.stop(0);
    await db.close();
    dir.cleanup();
  }
});
