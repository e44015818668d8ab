/**
 * Pipeline runs end to end on both store dialects, with real processes: order and parallelism from the jobs'
 * own records, failure propagation (downstream skipped, branches go on), a fan-out of 20 items at most 4 at
 * once, artifacts reaching downstream steps, `--from-failed` re-running only what failed with the same inputs,
 * and cancel mid-run leaving no live step.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dialectTest } from '../dialects.js';
import { waitFor } from '../helpers.js';
import { pipelineHarness } from './harness.js';

type Step = { step: string; state: string; total: number; counts: Record<string, number>; runs: { run_id: string; item: number; state: string }[] };
const stepsOf = (pr: Record<string, unknown>) => Object.fromEntries((pr.steps as Step[]).map((s) => [s.step, s]));

/** The logs of the step runs that failed, for an assertion's message. */
async function diagnose(h: { api(m: string, p: string): Promise<{ json: Record<string, unknown> }> }, pr: Record<string, unknown>): Promise<string> {
  const out: string[] = [String(pr.reason)];
  for (const s of pr.steps as Step[]) {
    for (const r of s.runs.filter((x) => x.state === 'failed')) {
      const run = await h.api('GET', `/api/v1/runs/${r.run_id}`);
      const logs = await h.api('GET', `/api/v1/runs/${r.run_id}/logs`);
      out.push(`${s.step}: ${String(run.json.reason)} ${JSON.stringify((logs.json.lines as { line: string }[] | undefined)?.map((l) => l.line))}`);
    }
  }
  return out.join('\n');
}

/** The first end and last start of each key (step or step/item), from the jobs' records. */
function spans(events: { what: string; key: string; at: bigint }[]) {
  const out = new Map<string, { start: bigint; end: bigint }>();
  for (const e of events) {
    const s = out.get(e.key) ?? { start: 0n, end: 0n };
    if (e.what === 'start') s.start = e.at;
    else s.end = e.at;
    out.set(e.key, s);
  }
  return out;
}

dialectTest('steps start after their needs, independent steps run at the same time, a failure skips what depends on it', async (dialect) => {
  const h = await pipelineHarness(dialect, (dir) => `
project: pipe
jobs:
  rec:
    run: sh ${dir}/rec.sh "$KAIROS_PARAM_KEY"
    params:
      key: {type: string, required: true}
  slow:
    run: sh ${dir}/rec.sh "$KAIROS_PARAM_KEY" 1
    params:
      key: {type: string, required: true}
  boom:
    run: sh ${dir}/rec.sh boom; exit 3
pipelines:
  graph:
    steps:
      a: {job: rec, params: {key: a}}
      b: {job: slow, needs: [a], params: {key: b}}
      c: {job: slow, needs: [a], params: {key: c}}
      d: {job: rec, needs: [b, c], params: {key: d}}
  broken:
    steps:
      a: {job: rec, params: {key: a2}}
      bad: {job: boom, needs: [a]}
      after: {job: rec, needs: [bad], params: {key: after}}
      later: {job: rec, needs: [after], params: {key: later}}
      side: {job: slow, needs: [a], params: {key: side}}
`);
  try {
    const start = await h.api('POST', '/api/v1/pipelines/pipe/graph/runs', {});
    assert.equal(start.status, 201, JSON.stringify(start.json));
    const done = await h.waitPipeline(String(start.json.id));
    assert.equal(done.state, 'succeeded', await diagnose(h, done));
    const s = spans(h.events());
    const at = (k: string) => s.get(k) ?? assert.fail(`no record of ${k}: ${JSON.stringify([...s.keys()])}`);
    assert.ok(at('b').start > at('a').end && at('c').start > at('a').end, 'b and c start after a ended');
    assert.ok(at('d').start > at('b').end && at('d').start > at('c').end, 'd starts after b and c ended');
    assert.ok(at('b').start < at('c').end && at('c').start < at('b').end, 'b and c ran at the same time');
    // Every step is an ordinary run with the pipeline run's logical time.
    const runs = Object.values(stepsOf(done)).flatMap((x) => x.runs.map((r) => r.run_id));
    for (const id of runs) {
      const r = await h.api('GET', `/api/v1/runs/${id}`);
      assert.equal(r.json.scheduled_for, done.scheduled_for);
      assert.equal(r.json.trigger, 'manual');
    }

    const b = await h.api('POST', '/api/v1/pipelines/pipe/broken/runs', {});
    const failed = await h.waitPipeline(String(b.json.id));
    assert.equal(failed.state, 'failed');
    const steps = stepsOf(failed);
    assert.equal(steps.bad?.state, 'failed');
    assert.equal(steps.after?.state, 'skipped');
    assert.equal(steps.later?.state, 'skipped');
    assert.equal(steps.side?.state, 'succeeded', 'an independent branch goes on');
    const skipped = await h.api('GET', `/api/v1/runs/${steps.after?.runs[0]?.run_id}`);
    assert.equal(skipped.json.state, 'skipped');
    assert.equal(skipped.json.reason_code, 'upstream_failed');
    assert.ok(!h.events().some((e) => e.key === 'after' || e.key === 'later'), 'skipped steps never ran');
  } finally {
    await h.close();
  }
});

dialectTest('a fan-out of 20 items runs at most 4 at once, and its dependant waits for all of them', async (dialect) => {
  const h = await pipelineHarness(dialect, (dir) => `
project: fan
jobs:
  item:
    run: sh ${dir}/rec.sh "item-$KAIROS_PARAM_N" 0.2
    params:
      n: {type: integer, required: true}
  rec:
    run: sh ${dir}/rec.sh "$KAIROS_PARAM_KEY"
    params:
      key: {type: string, required: true}
pipelines:
  fan:
    max_parallel: 4
    params:
      ns: {type: list, default: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}
    steps:
      each: {job: item, map: ns, params: {n: "\${{ item }}"}}
      all: {job: rec, needs: [each], params: {key: all}}
`, { capacity: 16 });
  try {
    const start = await h.api('POST', '/api/v1/pipelines/fan/fan/runs', {});
    assert.equal(start.status, 201, JSON.stringify(start.json));
    const done = await h.waitPipeline(String(start.json.id));
    assert.equal(done.state, 'succeeded', await diagnose(h, done));
    const events = h.events();
    let live = 0;
    let most = 0;
    for (const e of events.filter((x) => x.key.startsWith('item-')).sort((x, y) => (x.at < y.at ? -1 : x.at > y.at ? 1 : 0))) {
      live += e.what === 'start' ? 1 : -1;
      most = Math.max(most, live);
    }
    assert.equal(new Set(events.filter((e) => e.key.startsWith('item-')).map((e) => e.key)).size, 20, 'one run per item');
    assert.ok(most <= 4, `at most 4 items at once, saw ${most}`);
    assert.ok(most >= 2, `items ran in parallel (saw ${most})`);
    const s = spans(events);
    const lastItemEnd = [...s.entries()].filter(([k]) => k.startsWith('item-')).reduce((m, [, v]) => (v.end > m ? v.end : m), 0n);
    assert.ok((s.get('all')?.start ?? 0n) > lastItemEnd, 'the dependant starts after every item ended');
    const each = stepsOf(done).each;
    assert.equal(each?.total, 20);
    assert.equal(each?.counts.succeeded, 20);
  } finally {
    await h.close();
  }
});

dialectTest('artifacts reach downstream steps; --from-failed reruns only what failed, with the same inputs', async (dialect) => {
  const h = await pipelineHarness(dialect, (dir) => `
project: arts
jobs:
  extract:
    run: echo "rows-$KAIROS_SCHEDULED_FOR" > $KAIROS_ARTIFACTS/data.csv; sh ${dir}/rec.sh extract
  train:
    run: mkdir -p $KAIROS_ARTIFACTS/m && cat $KAIROS_INPUTS/extract/data.csv > $KAIROS_ARTIFACTS/m/model-$KAIROS_PARAM_REGION.txt && echo "$KAIROS_PARAM_REGION" >> $KAIROS_ARTIFACTS/m/model-$KAIROS_PARAM_REGION.txt; sh ${dir}/rec.sh "train-$KAIROS_PARAM_REGION"
    params:
      region: {type: string, required: true}
  report:
    run: test -f ${dir}/gate || exit 1; cat $KAIROS_INPUTS/train/eu/m/model-eu.txt $KAIROS_INPUTS/train/us/m/model-us.txt $KAIROS_INPUTS/extract/data.csv; sh ${dir}/rec.sh report
pipelines:
  flow:
    params:
      regions: {type: list, default: [eu, us]}
    steps:
      extract: extract
      train: {job: train, needs: [extract], map: regions, params: {region: "\${{ item }}"}}
      report: {job: report, needs: [train, extract]}
`);
  try {
    const start = await h.api('POST', '/api/v1/pipelines/arts/flow/runs', {});
    const first = await h.waitPipeline(String(start.json.id));
    assert.equal(first.state, 'failed', 'report fails until the gate file exists');
    const steps = stepsOf(first);
    assert.equal(steps.report?.state, 'failed');
    assert.equal(steps.train?.state, 'succeeded');
    const before = h.events().map((e) => e.key);
    assert.deepEqual(before.filter((k) => k === 'extract').length, 2, 'extract ran once (start and end)');

    writeFileSync(join(h.dir, 'gate'), '');
    const again = await h.api('POST', `/api/v1/pipeline-runs/${String(first.id)}/rerun`, { from_failed: true });
    assert.equal(again.status, 201, JSON.stringify(again.json));
    assert.equal(again.json.rerun_of, first.id);
    assert.equal(again.json.scheduled_for, first.scheduled_for);
    const second = await h.waitPipeline(String(again.json.id));
    assert.equal(second.state, 'succeeded', await diagnose(h, second));
    const after = h.events().map((e) => e.key);
    assert.equal(after.filter((k) => k === 'extract').length, 2, 'extract did not run again');
    assert.equal(after.filter((k) => k.startsWith('train-')).length, 4, 'train did not run again');
    assert.equal(after.filter((k) => k === 'report').length, 2, 'report ran once, in the rerun');
    const s2 = stepsOf(second);
    assert.equal(s2.extract?.runs[0]?.run_id, steps.extract?.runs[0]?.run_id, 'the succeeded step is carried over');
    const reportRun = String(s2.report?.runs[0]?.run_id);
    const logs = await h.api('GET', `/api/v1/runs/${reportRun}/logs`);
    const text = (logs.json.lines as { line: string }[]).map((l) => l.line).filter((l) => !l.startsWith('[kairos]'));
    const logical = `rows-${String(first.scheduled_for)}`;
    assert.deepEqual(text.slice(0, 5), [logical, 'eu', logical, 'us', logical], 'upstream artifacts, one folder per item, with the original logical time');
    const inputs = await h.api('GET', `/api/v1/runs/${reportRun}/inputs`);
    assert.ok(JSON.stringify(inputs.json).includes('step:train'), 'the inputs read are recorded with the attempt');
  } finally {
    await h.close();
  }
});

dialectTest('cancel of a pipeline run mid-run leaves no live step and starts nothing more', async (dialect) => {
  const h = await pipelineHarness(dialect, (dir) => `
project: stop
jobs:
  long:
    run: sh ${dir}/rec.sh "long-$KAIROS_PARAM_N" 300
    params:
      n: {type: integer, required: true}
  rec:
    run: sh ${dir}/rec.sh after
pipelines:
  p:
    max_parallel: 2
    params:
      ns: {type: list, default: [1, 2, 3, 4, 5]}
    steps:
      many: {job: long, map: ns, params: {n: "\${{ item }}"}}
      after: {job: rec, needs: [many]}
`);
  try {
    const start = await h.api('POST', '/api/v1/pipelines/stop/p/runs', {});
    const id = String(start.json.id);
    await waitFor('two items running', () => h.events().filter((e) => e.what === 'start').length >= 2);
    const c = await h.api('POST', `/api/v1/pipeline-runs/${id}/cancel`, {});
    assert.equal(c.status, 200);
    const done = await h.waitPipeline(id);
    assert.equal(done.state, 'cancelled');
    const live = await h.db.kysely.selectFrom('runs').select(['id', 'state']).where('state', 'in', ['queued', 'running']).execute();
    assert.deepEqual(live, [], 'no live step run');
    const steps = stepsOf(done);
    assert.equal(steps.many?.runs.length, 2, 'no item started after the cancel');
    assert.ok(steps.many?.runs.every((r) => r.state === 'cancelled'));
    assert.notEqual(steps.after?.state, 'succeeded');
    assert.ok(!existsSync(join(h.dir, 'never')));
  } finally {
    await h.close();
  }
});

dialectTest("a pipeline's notify rules: failure when a pipeline run fails, recovery when the next one succeeds, linked to the pipeline run", async (dialect) => {
  const h = await pipelineHarness(dialect, (dir) => `
project: alerting
jobs:
  gate:
    run: sh ${dir}/rec.sh gate; test "$KAIROS_PARAM_OK" = yes
    params:
      ok: {type: string, default: "no"}
pipelines:
  nightly:
    params:
      ok: {type: string, default: "no"}
    steps:
      gate: {job: gate, params: {ok: "\${{ params.ok }}"}}
    notify:
      - {on: failure, webhook: "http://127.0.0.1:9/failed"}
      - {on: recovery, webhook: "http://127.0.0.1:9/recovered"}
`);
  try {
    const outbox = () => h.db.kysely.selectFrom('alerts').select(['run_id', 'kind', 'job', 'target', 'payload_json']).orderBy('created_at').orderBy('id').execute();
    const failed = await h.api('POST', '/api/v1/pipelines/alerting/nightly/runs', {});
    assert.equal(failed.status, 201, JSON.stringify(failed.json));
    assert.equal((await h.waitPipeline(String(failed.json.id))).state, 'failed');
    const first = await waitFor('the failure alert in the outbox', async () => ((await outbox()).length >= 1 ? await outbox() : null));
    assert.deepEqual(first.map((a) => [a.run_id, a.kind, a.job, a.target]), [[String(failed.json.id), 'failure', 'nightly', 'http://127.0.0.1:9/failed']]);
    const payload = JSON.parse(first[0]?.payload_json ?? '{}') as Record<string, unknown>;
    assert.equal(payload.pipeline, 'nightly');
    assert.equal(payload.state, 'failed');
    const ok = await h.api('POST', '/api/v1/pipelines/alerting/nightly/runs', { params: { ok: 'yes' } });
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    assert.equal((await h.waitPipeline(String(ok.json.id))).state, 'succeeded');
    const both = await waitFor('the recovery alert in the outbox', async () => ((await outbox()).length >= 2 ? await outbox() : null));
    assert.deepEqual(both.map((a) => [a.run_id, a.kind]), [[String(failed.json.id), 'failure'], [String(ok.json.id), 'recovery']]);
    // The step run's own job has no rules: no alert names it.
    assert.ok(both.every((a) => a.job === 'nightly'));
  } finally {
    await h.close();
  }
});
