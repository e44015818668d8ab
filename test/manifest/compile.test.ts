/** A valid manifest compiles into what the engine uses: every default applied, durations in milliseconds. */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { tempDir, writeProject } from '../helpers.js';
import {
  compileManifestText,
  formatProblem,
  initTemplate,
  loadManifestFile,
  type CompiledJob,
  type CompiledManifest,
} from '../../src/manifest/index.js';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

function compile(text: string): CompiledManifest {
  const result = compileManifestText(text, 'kairos.yaml');
  if (!result.ok) assert.fail(`expected no problems, got:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.manifest;
}

function jobOf(m: CompiledManifest, name: string): CompiledJob {
  const job = m.jobs[name];
  assert.ok(job, `job ${name} missing`);
  return job;
}

describe('compiling', () => {
  test('the smallest manifest gets every default', () => {
    const m = compile(yaml('project: demo', 'jobs:', '  hello:', '    run: echo hello'));
    assert.deepEqual(m.defaults, {
      timezone: 'UTC',
      timeoutMs: null,
      graceMs: 10_000,
      retries: { max: 0, delayMs: 10_000, backoff: 2, maxDelayMs: 3_600_000, jitter: 0, on: ['failed', 'timed_out', 'lost'] },
      pool: 'default',
      notify: [],
      network: { needs: [], onFailure: 'fail', timeoutMs: 5000, maxWaitMs: 600_000 },
    });
    assert.deepEqual(m.pools, { default: { name: 'default', concurrency: null } });
    assert.deepEqual(jobOf(m, 'hello'), {
      name: 'hello',
      description: null,
      run: { kind: 'shell', script: 'echo hello' },
      schedule: null,
      params: {},
      env: {},
      timeoutMs: null,
      graceMs: 10_000,
      startTimeoutMs: null,
      retries: m.defaults.retries,
      pool: 'default',
      resources: { cpu: null, memoryBytes: null, gpu: null },
      secrets: [],
      workdir: null,
      environment: null,
      check: null,
      notify: [],
      network: { needs: [], onFailure: 'fail', timeoutMs: 5000, maxWaitMs: 600_000 },
      inputs: [],
      retention: { runs: null, days: null },
    });
    assert.deepEqual([m.environments, m.test], [{}, null]);
  });

  test('environments compile by kind; the test command runs in the one environment all jobs use', () => {
    const m = compile(
      yaml(
        'project: demo',
        'environments:',
        '  py: {python: "3.11", requirements: ./req/base.txt, index_urls: ["https://int.example/simple/", "https://pub.example/simple/"]}',
        '  web: {node: tools/package.json}',
        '  plain: {system: true}',
        'test: pytest -q',
        'jobs:',
        '  a: {run: x, environment: py, check: true}',
        '  b: {run: [x], environment: py, check: ["--smoke", "1"]}',
      ),
    );
    assert.deepEqual(m.environments, {
      py: { kind: 'python', name: 'py', interpreter: '3.11', requirements: 'req/base.txt', indexUrls: ['https://int.example/simple/', 'https://pub.example/simple/'], systemSitePackages: false },
      web: { kind: 'node', name: 'web', packageJson: 'tools/package.json' },
      plain: { kind: 'system', name: 'plain' },
    });
    assert.deepEqual(m.test, { run: { kind: 'shell', script: 'pytest -q' }, environment: 'py', timeoutMs: 600_000 });
    assert.deepEqual([jobOf(m, 'a').check, jobOf(m, 'b').check], [[], ['--smoke', '1']]);
  });

  test('a project without jobs is valid', () => {
    assert.deepEqual(compile('project: empty\n').jobs, {});
  });

  test('a cron string schedule takes the default time zone and policies', () => {
    const m = compile(yaml('project: demo', 'defaults:', '  timezone: Europe/Berlin', 'jobs:', '  nightly:', '    run: x', '    schedule: "0 2 * * *"'));
    assert.deepEqual(jobOf(m, 'nightly').schedule, { cron: '0 2 * * *', timezone: 'Europe/Berlin', catchup: 'latest', maxCatchup: 100, concurrency: 'forbid' });
  });

  test('a schedule mapping keeps its own settings', () => {
    const m = compile(
      yaml('project: demo', 'jobs:', '  a:', '    run: x', '    schedule:', '      cron: "*/15 * * * *"', '      timezone: America/New_York', '      catchup: all', '      concurrency: queue', '      max_catchup: 7'),
    );
    assert.deepEqual(jobOf(m, 'a').schedule, { cron: '*/15 * * * *', timezone: 'America/New_York', catchup: 'all', maxCatchup: 7, concurrency: 'queue' });
  });

  test('a retry count means a 10s delay doubling up to an hour; a mapping overrides each part', () => {
    const m = compile(
      yaml(
        'project: demo',
        'defaults:',
        '  retries: {max: 1, delay: 30s}',
        'jobs:',
        '  counted:',
        '    run: x',
        '    retries: 3',
        '  custom:',
        '    run: x',
        '    retries: {max: 5, delay: 1m, backoff: 1.5, max_delay: 10m, jitter: 0.2, on: [lost]}',
        '  inherited:',
        '    run: x',
      ),
    );
    assert.deepEqual(jobOf(m, 'counted').retries, { max: 3, delayMs: 10_000, backoff: 2, maxDelayMs: 3_600_000, jitter: 0, on: ['failed', 'timed_out', 'lost'] });
    assert.deepEqual(jobOf(m, 'custom').retries, { max: 5, delayMs: 60_000, backoff: 1.5, maxDelayMs: 600_000, jitter: 0.2, on: ['lost'] });
    assert.equal(jobOf(m, 'inherited').retries.delayMs, 30_000);
    assert.equal(jobOf(m, 'inherited').retries.max, 1);
  });

  test('timeouts and grace come from the job, else from defaults, in milliseconds', () => {
    const m = compile(yaml('project: demo', 'defaults: {timeout: 2h, grace: 30s}', 'jobs:', '  a: {run: x, timeout: 1h30m}', '  b: {run: x, grace: 500ms}'));
    assert.deepEqual([jobOf(m, 'a').timeoutMs, jobOf(m, 'a').graceMs], [5_400_000, 30_000]);
    assert.deepEqual([jobOf(m, 'b').timeoutMs, jobOf(m, 'b').graceMs], [7_200_000, 500]);
  });

  test('an argv list runs without a shell; env values become text', () => {
    const m = compile(yaml('project: demo', 'jobs:', '  a:', '    run: [python, train.py, --epochs, "5"]', '    env: {THREADS: 4, DEBUG: true, NAME: x}'));
    const a = jobOf(m, 'a');
    assert.deepEqual(a.run, { kind: 'argv', argv: ['python', 'train.py', '--epochs', '5'] });
    assert.deepEqual(a.env, { THREADS: '4', DEBUG: 'true', NAME: 'x' });
  });

  test('memory sizes are bytes: Mi and Gi in powers of 1024, M and G in powers of 1000', () => {
    const sizes = { a: '512Mi', b: '2Gi', c: '1G', d: '100M', e: '1048576' };
    const jobs = Object.entries(sizes).map(([name, size]) => `  ${name}: {run: x, resources: {memory: "${size}"}}`);
    const m = compile(yaml('project: demo', 'jobs:', ...jobs, '  f: {run: x, resources: {memory: 4096, cpu: 0.5, gpu: 1}}'));
    assert.deepEqual(
      ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => jobOf(m, n).resources.memoryBytes),
      [512 * 2 ** 20, 2 * 2 ** 30, 1e9, 1e8, 1_048_576, 4096],
    );
    assert.deepEqual(jobOf(m, 'f').resources, { cpu: 0.5, memoryBytes: 4096, gpu: 1 });
  });

  test('params keep their types, defaults and enums', () => {
    const m = compile(
      yaml(
        'project: demo',
        'jobs:',
        '  a:',
        '    run: x',
        '    params:',
        '      day: {type: date, required: true, description: Logical day}',
        '      n: {type: integer, default: 3}',
        '      split: {enum: [train, test], default: test}',
      ),
    );
    assert.deepEqual(jobOf(m, 'a').params, {
      day: { type: 'date', required: true, description: 'Logical day' },
      n: { type: 'integer', required: false, default: 3 },
      split: { type: 'string', required: false, default: 'test', enum: ['train', 'test'] },
    });
  });

  test('pools, environments, secrets and workdir are kept, normalised', () => {
    const m = compile(
      yaml(
        'project: demo',
        'defaults: {pool: cpu}',
        'pools:',
        '  cpu: {concurrency: 4}',
        '  gpu: {}',
        'environments:',
        '  py311: {python: "3.11"}',
        'jobs:',
        '  a: {run: x, pool: gpu, environment: py311, secrets: [API_KEY, API_KEY, DB_URL], workdir: ./jobs/train/}',
        '  b: {run: x, workdir: .}',
      ),
    );
    assert.deepEqual(m.pools, {
      default: { name: 'default', concurrency: null },
      cpu: { name: 'cpu', concurrency: 4 },
      gpu: { name: 'gpu', concurrency: null },
    });
    assert.deepEqual(Object.keys(m.environments), ['py311']);
    const a = jobOf(m, 'a');
    assert.deepEqual([a.pool, a.environment, a.secrets, a.workdir], ['gpu', 'py311', ['API_KEY', 'DB_URL'], 'jobs/train']);
    assert.deepEqual([jobOf(m, 'b').pool, jobOf(m, 'b').workdir], ['cpu', null]);
  });

  test('a $schema key and a yaml-language-server comment are allowed', () => {
    const m = compile(yaml('# yaml-language-server: $schema=./kairos.schema.json', '$schema: ./kairos.schema.json', 'project: demo'));
    assert.equal(m.project, 'demo');
  });

  test('YAML anchors and merge keys work, and positions still point into the file', () => {
    const text = yaml('project: demo', 'x-common: &common', '  timeout: 1h', 'jobs:', '  a:', '    <<: *common', '    run: x');
    const result = compileManifestText(text, 'kairos.yaml');
    // `x-common` is not a manifest key: reported, but the merge itself is understood.
    assert.equal(result.ok, false);
    if (!result.ok) assert.deepEqual(result.problems.map((p) => [p.line, p.code, p.path]), [[2, 'unknown_key', 'x-common']]);
    const ok = compile(yaml('project: demo', 'jobs:', '  a: &a', '    run: x', '    timeout: 1h', '  b:', '    <<: *a', '    timeout: 2h'));
    assert.deepEqual([jobOf(ok, 'b').run, jobOf(ok, 'b').timeoutMs], [{ kind: 'shell', script: 'x' }, 7_200_000]);
  });
});

describe('init template', () => {
  test('compiles without problems and explains its keys in comments', () => {
    const text = initTemplate('analytics');
    const m = compile(text);
    assert.equal(m.project, 'analytics');
    assert.ok(Object.keys(m.jobs).length >= 2);
    assert.match(text, /^# Kairos manifest/);
    assert.match(text, /# IANA time zone in which schedules are evaluated\./);
  });

  test('turns any directory name into a valid project name', () => {
    for (const dir of ['My Project', '2024 reports', '---', 'ÉTÉ', 'a'.repeat(100)]) {
      const m = compile(initTemplate(dir));
      assert.match(m.project, /^[a-z][a-z0-9_-]{0,62}$/, dir);
    }
    assert.equal(compile(initTemplate('My Project')).project, 'my-project');
  });

  test('can point editors at the JSON Schema on its first line', () => {
    const text = initTemplate('demo', { schemaUrl: 'kairos.schema.json' });
    assert.equal(text.split('\n')[0], '# yaml-language-server: $schema=kairos.schema.json');
    compile(text);
  });
});

describe('loading a file', () => {
  const dir = tempDir('kairos-manifest-');
  after(() => dir.cleanup());

  test('a directory means its kairos.yaml', async () => {
    writeProject(dir.path, { 'kairos.yaml': 'project: fromdir\n' });
    const result = await loadManifestFile(dir.path);
    assert.ok(result.ok);
    if (result.ok) assert.equal(result.manifest.project, 'fromdir');
  });

  test('problems name the file that was read', async () => {
    writeProject(dir.path, { 'other.yaml': 'project: x\njobs: 3\n' });
    const file = join(dir.path, 'other.yaml');
    const result = await loadManifestFile(file);
    assert.equal(result.ok, false);
    if (!result.ok) assert.deepEqual(result.problems.map((p) => [p.file, p.line, p.col, p.code]), [[file, 2, 7, 'invalid_type']]);
  });

  test('a missing file is one unreadable problem', async () => {
    const empty = join(dir.path, 'empty');
    mkdirSync(empty);
    const result = await loadManifestFile(empty);
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.problems.length, 1);
      assert.deepEqual({ ...result.problems[0], message: undefined }, { file: join(empty, 'kairos.yaml'), line: 1, col: 1, path: '', code: 'unreadable', message: undefined });
      assert.match(result.problems[0]?.message ?? '', /no such file/);
    }
  });

  test('inputs and retention compile; bad references are reported at their line and column', () => {
    const m = compile(yaml('project: demo', 'jobs:', '  train:', '    run: "true"', '    inputs:', '      sales: sales@latest', '      old: sales@0123abcd', '      model: run:prep@latest/out/model.bin', '    retention: {runs: 5, days: 30}'));
    const job = jobOf(m, 'train');
    assert.deepEqual(job.inputs, [
      { name: 'sales', ref: 'sales@latest', source: 'snapshot', snapshot: 'sales', version: 'latest' },
      { name: 'old', ref: 'sales@0123abcd', source: 'snapshot', snapshot: 'sales', version: '0123abcd' },
      { name: 'model', ref: 'run:prep@latest/out/model.bin', source: 'run', job: 'prep', path: 'out/model.bin' },
    ]);
    assert.deepEqual(job.retention, { runs: 5, days: 30 });
    const bad = compileManifestText(
      yaml('project: demo', 'jobs:', '  train:', '    run: "true"', '    inputs:', '      ../up: sales@latest', '      a: sales', '      b: run:prep@latest/../etc/passwd', '      c: sales@xyz', '    retention: {runs: 0, weeks: 2}'),
      'kairos.yaml',
    );
    assert.equal(bad.ok, false);
    const lines = bad.ok ? [] : bad.problems.map(formatProblem);
    assert.ok(lines.some((l) => /^kairos\.yaml:6:7: jobs\.train\.inputs\.\.\.\/up: input name "\.\.\/up" is not valid/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^kairos\.yaml:7:10: jobs\.train\.inputs\.a: expected SNAPSHOT@VERSION/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^kairos\.yaml:8:10: jobs\.train\.inputs\.b: .*not a relative path/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^kairos\.yaml:9:10: jobs\.train\.inputs\.c: "xyz" is not a version/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /^kairos\.yaml:10:23: jobs\.train\.retention\.runs: /.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /jobs\.train\.retention\.weeks/.test(l)), lines.join('\n'));
  });
});
