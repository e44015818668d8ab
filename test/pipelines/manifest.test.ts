/** `pipelines.<name>` in kairos.yaml: what compiles, and each bad manifest exiting 2 with the right line. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileManifestText } from '../../src/manifest/index.js';
import { planPipeline, stepParams } from '../../src/model/pipeline.js';
import { cli, tempDir, writeProject } from '../helpers.js';

const JOBS = `project: demo
jobs:
  extract:
    run: echo extract
  features:
    run: echo features
    params:
      date: {type: date}
  train:
    run: echo train
    params:
      region: {type: string, required: true}
      date: {type: date}
  report:
    run: echo report
`;

test('a pipeline compiles: shorthand steps, needs in topological order, params by reference', () => {
  const r = compileManifestText(
    `${JOBS}pipelines:
  daily:
    params:
      date: {type: date, default: "2024-01-02"}
      regions: {type: list, default: [eu, us, asia]}
    max_parallel: 2
    steps:
      report: {job: report, needs: [train]}
      train: {job: train, needs: [features], map: regions, params: {region: "\${{ item }}"}}
      features: {job: features, needs: [extract], params: {date: "\${{ params.date }}"}}
      extract: extract
`,
    'kairos.yaml',
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const p = r.manifest.pipelines?.daily;
  assert.ok(p);
  assert.deepEqual(p.steps.map((s) => s.name), ['extract', 'features', 'train', 'report']);
  assert.equal(p.maxParallel, 2);
  assert.deepEqual(p.params.regions?.default, ['eu', 'us', 'asia']);
  const train = p.steps[2];
  assert.ok(train);
  // The item goes where the step says; a pipeline param of the job's own name is passed by name.
  assert.deepEqual(stepParams(train, ['region', 'date'], { date: '2024-01-02', regions: ['eu', 'us'] }, 'us'), { date: '2024-01-02', region: 'us' });
});

test('the planner: needs first, bounded fan-out, skip after a failure, end states', () => {
  const steps = [
    { name: 'a', job: 'j', needs: [], params: {}, map: null },
    { name: 'm', job: 'j', needs: ['a'], params: {}, map: 'xs' },
    { name: 'b', job: 'j', needs: ['a'], params: {}, map: null },
    { name: 'z', job: 'j', needs: ['m', 'b'], params: {}, map: null },
  ];
  const p = { steps, maxParallel: 4 };
  assert.deepEqual(planPipeline(p, [], { m: 20 }, false).actions, [{ kind: 'create', step: 'a', item: -1 }]);
  const afterA = planPipeline(p, [{ step: 'a', item: -1, state: 'succeeded' }], { m: 20 }, false).actions;
  assert.equal(afterA.filter((x) => x.kind === 'create' && x.step === 'm').length, 4);
  assert.ok(afterA.some((x) => x.kind === 'create' && x.step === 'b'));
  // b fails: z is skipped once the step is decided, m's items go on.
  const runs = [
    { step: 'a', item: -1, state: 'succeeded' as const },
    { step: 'b', item: -1, state: 'failed' as const },
    ...Array.from({ length: 4 }, (_, i) => ({ step: 'm', item: i, state: 'running' as const })),
  ];
  const later = planPipeline(p, runs, { m: 20 }, false).actions;
  assert.ok(later.some((x) => x.kind === 'skip' && x.step === 'z' && x.upstream === 'b'));
  assert.ok(!later.some((x) => x.kind === 'create'));
  assert.ok(!later.some((x) => x.kind === 'finish'));
  const done = [...runs.slice(0, 2), ...Array.from({ length: 20 }, (_, i) => ({ step: 'm', item: i, state: 'succeeded' as const })), { step: 'z', item: -1, state: 'skipped' as const }];
  assert.deepEqual(planPipeline(p, done, { m: 20 }, false).actions, [{ kind: 'finish', state: 'failed', reason: 'step b failed' }]);
});

const BAD: readonly { what: string; steps: string; line: number; message: RegExp; path?: string }[] = [
  { what: 'a cycle', steps: '      a: {job: extract, needs: [b]}\n      b: {job: report, needs: [a]}\n', line: 21, message: /cycle: a → b → a/ },
  { what: 'an unknown step', steps: '      a: extract\n      b: {job: report, needs: [a, ghost]}\n', line: 22, message: /unknown step "ghost"/ },
  { what: 'an unknown job', steps: '      a: extrcat\n', line: 21, message: /unknown job "extrcat"; did you mean "extract"/ },
  { what: 'a step param its job lacks', steps: '      a: {job: features, params: {dat: "x"}}\n', line: 21, message: /job "features" has no param "dat"; did you mean "date"/ },
  { what: 'a late rule in a pipeline notify', steps: '      a: extract\n    notify:\n      - {on: late, late: {start: 10m}, webhook: "http://127.0.0.1:9/x"}\n', line: 23, message: /a pipeline alerts on `failure` and `recovery`; `late` rules belong/, path: 'pipelines\\.p\\.notify\\.0\\.on' },
  { what: 'a fan-out over a non-list', steps: '      a: extract\n      b: {job: train, needs: [a], map: day, params: {region: "${{ item }}"}}\n', line: 22, message: /map fans out over a list: param "day" is a date/ },
];

for (const bad of BAD) {
  test(`kairos validate: ${bad.what} exits 2 with its line`, async (t) => {
    const dir = tempDir();
    t.after(() => dir.cleanup());
    writeProject(dir.path, { 'kairos.yaml': `${JOBS}pipelines:\n  p:\n    params:\n      day: {type: date, default: "2024-01-01"}\n    steps:\n${bad.steps}` });
    const r = await cli(['validate', dir.path]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const line = (r.stdout + r.stderr).split('\n').find((l) => bad.message.test(l));
    assert.ok(line, `no line matching ${bad.message}: ${r.stdout}${r.stderr}`);
    assert.match(line, new RegExp(`kairos\\.yaml:${bad.line}:\\d+: ${bad.path ?? 'pipelines\\.p\\.steps\\.'}`));
  });
}
