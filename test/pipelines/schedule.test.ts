/**
 * Scheduled pipelines: a pipeline's schedule fires one pipeline run per tick, across a `kairos up` restart
 * (the tick ledger and the unique key (schedule, instant) hold it, not memory); and a backfill over three days
 * makes one pipeline run per day, each step run seeing that day as its logical time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { dialectTest } from '../dialects.js';
import { tempDir, waitFor, writeProject } from '../helpers.js';
import { pipelineHarness } from './harness.js';

test('a scheduled pipeline fires once per tick across a kairos up restart', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  writeProject(dir.path, {
    'kairos.yaml': `
project: sched
jobs:
  a:
    run: echo "a $KAIROS_SCHEDULED_FOR" >> ${dir.path}/records.txt
  b:
    run: echo "b $KAIROS_SCHEDULED_FOR" >> ${dir.path}/records.txt
pipelines:
  every2s:
    schedule: {cron: "*/2 * * * * *", concurrency: allow}
    steps:
      a: a
      b: {job: b, needs: [a]}
`,
  });
  const dataDir = join(dir.path, 'data');
  const start = () => startEmbedded({ projectDir: dir.path, dataDir, port: 0, watch: false, log: () => {}, sandbox: { mode: 'none' } });
  let up: Embedded = await start();
  t.after(() => up.stop(2000));
  const runs = () => up.engine.db.kysely.selectFrom('pipeline_runs').selectAll().orderBy('scheduled_for').execute();
  await waitFor('two scheduled pipeline runs', async () => (await runs()).length >= 2);
  await up.stop(5000);
  up = await start();
  const before = (await runs()).length;
  await waitFor('two more after the restart', async () => (await runs()).length >= before + 2);
  await waitFor('every pipeline run ended', async () => (await runs()).every((r) => r.state !== 'running'));
  await up.stop(5000);
  up = await start();
  const all = await runs();
  const instants = all.map((r) => Number(r.scheduled_for));
  assert.equal(new Set(instants).size, instants.length, 'one pipeline run per tick');
  assert.ok(instants.every((i) => i % 2000 === 0), 'each at a tick of the schedule');
  assert.ok(all.every((r) => r.trigger === 'schedule' && r.state === 'succeeded'), JSON.stringify(all.map((r) => [r.state, r.reason])));
  const ticks = await up.engine.db.kysely.selectFrom('ticks').selectAll().where('schedule_id', '=', 'sched/pipeline:every2s').execute();
  const fired = ticks.filter((x) => x.run_id !== null);
  assert.deepEqual(fired.map((x) => Number(x.instant)).sort(), [...instants].sort(), 'the ledger names each pipeline run once');
  // Each step run has its pipeline run's logical time.
  const steps = await up.engine.db.kysely.selectFrom('pipeline_steps as s').innerJoin('runs as r', 'r.id', 's.run_id').innerJoin('pipeline_runs as p', 'p.id', 's.pipeline_run_id').select(['r.scheduled_for as run_at', 'p.scheduled_for as pipe_at']).execute();
  assert.equal(steps.length, all.length * 2);
  assert.ok(steps.every((s) => Number(s.run_at) === Number(s.pipe_at)));
});

dialectTest('backfill of a pipeline over three days: one pipeline run per day, each step with that day as logical time', async (dialect) => {
  const h = await pipelineHarness(dialect, (dir, records) => `
project: bf
jobs:
  extract:
    run: echo "start extract-$KAIROS_SCHEDULED_FOR 0" >> ${records}
  report:
    run: echo "start report-$KAIROS_SCHEDULED_FOR 0" >> ${records}
pipelines:
  daily:
    schedule: {cron: "0 3 * * *", timezone: Europe/Paris}
    steps:
      extract: extract
      report: {job: report, needs: [extract]}
`);
  try {
    const body = { from: '2026-01-01T00:00:00Z', to: '2026-01-03T23:59:59Z' };
    const dry = await h.api('POST', '/api/v1/pipelines/bf/daily/backfill', { ...body, dry_run: true });
    assert.equal(dry.status, 200, JSON.stringify(dry.json));
    assert.deepEqual(dry.json.planned, ['2026-01-01T02:00:00.000Z', '2026-01-02T02:00:00.000Z', '2026-01-03T02:00:00.000Z']);
    const r = await h.api('POST', '/api/v1/pipelines/bf/daily/backfill', body);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const created = r.json.created as { id: string; trigger: string }[];
    assert.equal(created.length, 3);
    for (const c of created) assert.equal((await h.waitPipeline(c.id)).state, 'succeeded');
    const again = await h.api('POST', '/api/v1/pipelines/bf/daily/backfill', body);
    assert.equal((again.json.created as unknown[]).length, 0, 'asking twice creates nothing');
    const keys = h.events().map((e) => e.key).sort();
    assert.deepEqual(keys, ['2026-01-01', '2026-01-02', '2026-01-03'].flatMap((d) => [`extract-${d}T02:00:00.000Z`, `report-${d}T02:00:00.000Z`]).sort());
    const list = await h.api('GET', '/api/v1/pipeline-runs?pipeline=daily');
    assert.ok((list.json.pipeline_runs as { trigger: string }[]).every((x) => x.trigger === 'backfill'));
  } finally {
    await h.close();
  }
});
