/**
 * Retention (docs/snapshots.md) on a real store (SQLite and PostgreSQL) and a real artifact store, with a clock
 * the test moves: the artifact records of runs beyond `retention` go, then, a grace time later, the blobs that
 * nothing references any more; blobs a kept run, a live run's pinned inputs or a snapshot still use stay, as
 * does the newest succeeded run of a job (what `run:JOB@latest/...` names).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LocalArtifactStore } from '../../src/artifacts/store.js';
import { Engine } from '../../src/control/engine.js';
import { compileManifestText } from '../../src/manifest/compile.js';
import { openDb } from '../../src/store/db.js';
import { insertRunRow, type RunRow } from '../../src/store/runs.js';
import { dialectTest, freshTarget } from '../dialects.js';
import { tempDir, writeProject } from '../helpers.js';

const T0 = Date.parse('2026-11-01T00:00:00Z');
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const MANIFEST = `
project: ret
jobs:
  train:
    run: "true"
    retention: {runs: 2}
  evaluate:
    run: "true"
    retention: {days: 7}
  consume:
    run: "true"
`;

dialectTest('retention: old artifacts removed, referenced ones kept, blobs after a grace time', async (dialect) => {
  const dir = tempDir();
  const clock = { t: T0 };
  const db = await openDb(await freshTarget(dialect, dir.path), { clock: { now: () => clock.t } });
  const store = new LocalArtifactStore(join(dir.path, 'blobs'));
  const engine = new Engine({ db, dataDir: join(dir.path, 'data'), artifactStore: store, retention: { graceMs: HOUR, runs: 100 } });
  try {
    writeProject(join(dir.path, 'project'), { 'kairos.yaml': MANIFEST });
    const compiled = compileManifestText(MANIFEST, 'kairos.yaml');
    assert.ok(compiled.ok);
    const dep = (await engine.deploy(join(dir.path, 'project'), compiled.manifest, 'test')).deployment;

    const blob = async (text: string) => (await store.putStream(Readable.from([Buffer.from(text)]))).sha256;
    const B = {
      t1: await blob('train-1'), t2: await blob('train-2'), t3: await blob('train-3'), t4: await blob('train-4'),
      shared: await blob('shared by train 1 and 4'),
      e0: await blob('evaluate-0'), e1: await blob('evaluate-1'), e2: await blob('evaluate-2'),
      snap: await blob('a snapshot file'), orphan: await blob('uploaded, never committed'),
    };
    const run = async (id: string, job: string, state: RunRow['state'], finishedAt: number | null, artifacts: string[]) => {
      await insertRunRow(db.kysely, {
        id, project: 'ret', job, deployment_id: dep.id, bundle_hash: dep.bundle_hash, state, trigger: 'manual', attempt: 1, params_json: '{}', resources_json: null,
        scheduled_for: T0, schedule_id: null, pool: 'default', serial: 0, cancel_requested: 0, rerun_of: null, created_at: (finishedAt ?? T0) - 1000,
        not_before: T0, started_at: finishedAt === null ? T0 : finishedAt - 500, finished_at: finishedAt, exit_code: finishedAt === null ? null : 0, reason: null, reason_code: null, log_seq: 0,
      });
      for (const [i, sha] of artifacts.entries()) await db.kysely.insertInto('artifacts').values({ run_id: id, attempt: 1, path: `f${i}`, size: 1, sha256: sha }).execute();
    };
    // train keeps its newest 2 finished runs: t1 and t2 lose their artifacts.
    await run('t1', 'train', 'succeeded', T0 - 4 * HOUR, [B.t1, B.shared]);
    await run('t2', 'train', 'failed', T0 - 3 * HOUR, [B.t2]);
    await run('t3', 'train', 'succeeded', T0 - 2 * HOUR, [B.t3]);
    await run('t4', 'train', 'succeeded', T0 - 1 * HOUR, [B.t4, B.shared]);
    // evaluate keeps 7 days: e0 goes; e1 is older but the newest succeeded run, so it stays; e2 is recent.
    await run('e0', 'evaluate', 'succeeded', T0 - 20 * DAY, [B.e0]);
    await run('e1', 'evaluate', 'succeeded', T0 - 10 * DAY, [B.e1]);
    await run('e2', 'evaluate', 'failed', T0 - 1 * DAY, [B.e2]);
    // A live run of consume pinned t1's file as its input: the blob stays though t1's records go.
    await run('c1', 'consume', 'running', null, []);
    await db.kysely.insertInto('run_inputs').values({ run_id: 'c1', attempt: 0, name: 'model', source: 'run', ref: 'run:train@latest/f0', resolved: 't1', kind: 'file', digest: 'd'.repeat(64), files: 1, size: 1 }).execute();
    await db.kysely.insertInto('run_input_files').values({ run_id: 'c1', name: 'model', path: 'f0', sha256: B.t1, size: 1 }).execute();
    // A snapshot version uses a blob no run has.
    await db.kysely.insertInto('snapshot_versions').values({ project: 'ret', name: 'data', version: 'v'.repeat(64), kind: 'file', files: 1, size: 1, created_at: T0, created_by: 'test' }).execute();
    await db.kysely.insertInto('snapshot_files').values({ project: 'ret', name: 'data', version: 'v'.repeat(64), path: 'data.csv', sha256: B.snap, size: 1 }).execute();

    const first = await engine.collectGarbage();
    assert.deepEqual({ runs: first.runs, blobs: first.blobs }, { runs: 3, blobs: 0 }, 'records go at once; no blob before the grace time');
    const kept = async () => new Set((await db.kysely.selectFrom('artifacts').select('run_id').distinct().execute()).map((r) => r.run_id));
    assert.deepEqual([...(await kept())].sort(), ['e1', 'e2', 't3', 't4']);
    const held = async () => {
      const out = new Set<string>();
      for await (const b of store.list()) out.add(b.sha256);
      return out;
    };
    assert.equal((await held()).size, Object.keys(B).length, 'every blob is still there within the grace time');

    // A pass within the grace time deletes nothing yet.
    clock.t = T0 + HOUR / 2;
    assert.equal((await engine.collectGarbage()).blobs, 0);
    clock.t = T0 + HOUR + 1;
    const second = await engine.collectGarbage();
    const after = await held();
    const gone = Object.entries(B).filter(([, sha]) => !after.has(sha)).map(([k]) => k).sort();
    assert.deepEqual(gone, ['e0', 'orphan', 't2'], 'only blobs nothing references are deleted');
    assert.equal(second.blobs, 3);
    // Nothing more to do: the next pass deletes nothing, and a later one neither.
    clock.t = T0 + 5 * HOUR;
    assert.deepEqual(await engine.collectGarbage(), { runs: 0, artifacts: 0, blobs: 0 });

    // The live run's pin still holds t1's file.
    assert.ok((await held()).has(B.t1));
  } finally {
    await db.close();
    dir.cleanup();
  }
});

dialectTest('retention: the server default applies to jobs without their own; none at all keeps everything', async (dialect) => {
  const dir = tempDir();
  const clock = { t: T0 };
  const db = await openDb(await freshTarget(dialect, dir.path), { clock: { now: () => clock.t } });
  const store = new LocalArtifactStore(join(dir.path, 'blobs'));
  const make = (runs: number | null) => new Engine({ db, dataDir: join(dir.path, 'data'), artifactStore: store, retention: { graceMs: 0, runs } });
  try {
    writeProject(join(dir.path, 'project'), { 'kairos.yaml': MANIFEST });
    const compiled = compileManifestText(MANIFEST, 'kairos.yaml');
    assert.ok(compiled.ok);
    const dep = (await make(null).deploy(join(dir.path, 'project'), compiled.manifest, 'test')).deployment;
    for (let i = 0; i < 4; i++) {
      const sha = (await store.putStream(Readable.from([Buffer.from(`consume-${i}`)]))).sha256;
      await insertRunRow(db.kysely, {
        id: `c${i}`, project: 'ret', job: 'consume', deployment_id: dep.id, bundle_hash: dep.bundle_hash, state: 'failed', trigger: 'manual', attempt: 1, params_json: '{}', resources_json: null,
        scheduled_for: T0, schedule_id: null, pool: 'default', serial: 0, cancel_requested: 0, rerun_of: null, created_at: T0 + i,
        not_before: T0, started_at: T0 + i, finished_at: T0 + i, exit_code: 1, reason: null, reason_code: null, log_seq: 0,
      });
      await db.kysely.insertInto('artifacts').values({ run_id: `c${i}`, attempt: 1, path: 'x', size: 1, sha256: sha }).execute();
    }
    // A package of the index shares the store: its file and .metadata are never collected.
    const wheel = (await store.putStream(Readable.from([Buffer.from('a wheel')]))).sha256;
    const meta = (await store.putStream(Readable.from([Buffer.from('Metadata-Version: 2.1')]))).sha256;
    await db.kysely
      .insertInto('pypi_files')
      .values({ filename: 'teamlib-1.0-py3-none-any.whl', project: 'teamlib', version: '1.0', kind: 'bdist_wheel', sha256: wheel, size: 7, requires_python: null, metadata_sha256: meta, yanked: 0, yanked_reason: null, uploaded_at: T0, uploaded_by: 'test', deleted_at: null })
      .execute();
    assert.deepEqual(await make(null).collectGarbage(), { runs: 0, artifacts: 0, blobs: 0 });
    const r = await make(1).collectGarbage();
    assert.deepEqual(r, { runs: 3, artifacts: 3, blobs: 3 });
    assert.ok(await store.head(wheel), 'the package file is kept');
    assert.ok(await store.head(meta), "the package's metadata is kept");
    assert.deepEqual((await db.kysely.selectFrom('artifacts').select('run_id').execute()).map((x) => x.run_id), ['c3']);
  } finally {
    await db.close();
    dir.cleanup();
  }
});
