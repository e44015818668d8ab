/**
 * Network needs in the store, on both dialects (migration 0015): workers' checks are kept per worker and
 * endpoint (the latest wins), an attempt's preflight is kept with it (refused for a stale lease), and claims
 * leave a run to a live worker of its pool whose checks passed, but never leave it without a taker.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Engine } from '../../src/control/engine.js';
import { compileManifestText } from '../../src/manifest/index.js';
import { openDb } from '../../src/store/db.js';
import type { EndpointCheck } from '../../src/model/network.js';
import { dialectTest, freshTarget } from '../dialects.js';
import { tempDir, writeProject } from '../helpers.js';

const DB = 'postgres://db.internal:5432';
const YAML = `project: n\njobs:\n  load:\n    run: "true"\n    network:\n      needs: ["${DB}"]\n  plain:\n    run: "true"\n`;

const check = (result: EndpointCheck['result'], at: number): EndpointCheck => ({ endpoint: DB, result, latencyMs: 1.5, detail: result === 'ok' ? null : 'connect ENETUNREACH', checkedAt: at });

dialectTest('worker checks are kept, an attempt keeps its preflight, and claims prefer a worker whose check passed', async (dialect) => {
  const dir = tempDir('kairos-network-');
  writeProject(dir.path, { 'kairos.yaml': YAML });
  const clock = { t: Date.parse('2026-01-01T00:00:00Z') };
  const db = await openDb(await freshTarget(dialect, join(dir.path, 'data')), { clock: { now: () => clock.t } });
  try {
    const e = new Engine({ db, dataDir: join(dir.path, 'data'), leaseMs: 10_000 });
    const compiled = compileManifestText(YAML, 'kairos.yaml');
    assert.ok(compiled.ok);
    await e.deploy(dir.path, compiled.manifest, 'test');
    for (const id of ['cut', 'good']) await e.registerWorker({ id, host: id, pools: ['default'], capacity: 4, version: 't' });

    await e.reportNetwork('cut', { checks: [check('ok', clock.t)] });
    await e.reportNetwork('cut', { checks: [check('unreachable', clock.t + 1)] });
    const rows = await db.kysely.selectFrom('worker_endpoints').selectAll().where('worker_id', '=', 'cut').execute();
    assert.deepEqual(rows.map((r) => [r.endpoint, r.result, Number(r.latency_ms), Number(r.checked_at)]), [[DB, 'unreachable', 1.5, clock.t + 1]]);

    // The cut-off worker leaves the run to the good one; a job without needs it takes as usual.
    const load = await e.createRun({ job: 'load', trigger: 'manual' });
    const plain = await e.createRun({ job: 'plain', trigger: 'manual' });
    const mine = await e.claim('cut', ['default'], 4);
    assert.deepEqual(mine.map((a) => a.run.id), [plain.id]);
    const theirs = await e.claim('good', ['default'], 4);
    assert.deepEqual(theirs.map((a) => a.run.id), [load.id]);
    assert.deepEqual(theirs[0]?.spec.network.needs, [DB]);

    // The preflight is kept with the attempt, with what it waits for; a stale lease changes nothing.
    const lease = theirs[0]!.lease;
    await e.reportNetwork('good', { checks: [check('ok', clock.t)], lease, waiting: 'waiting for the network: x' });
    let a = await db.kysely.selectFrom('attempts').select(['network_json', 'network_waiting']).where('run_id', '=', load.id).executeTakeFirstOrThrow();
    assert.equal(a.network_waiting, 'waiting for the network: x');
    assert.equal((JSON.parse(a.network_json ?? '[]') as EndpointCheck[])[0]?.result, 'ok');
    await e.reportNetwork('good', { checks: [], lease: { ...lease, token: 'stale' }, waiting: null });
    a = await db.kysely.selectFrom('attempts').select(['network_json', 'network_waiting']).where('run_id', '=', load.id).executeTakeFirstOrThrow();
    assert.equal(a.network_waiting, 'waiting for the network: x');

    // With the good worker gone (no heartbeat for a lease), the cut-off one takes the next run after all.
    clock.t += 20_000;
    await e.heartbeat('cut', []);
    const again = await e.createRun({ job: 'load', trigger: 'manual' });
    assert.deepEqual((await e.claim('cut', ['default'], 4)).map((x) => x.run.id), [again.id]);
  } finally {
    await db.close();
    dir.cleanup();
  }
});
