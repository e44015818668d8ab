/**
 * A manifest with mistakes gets every problem at once, each with a stable code, the line and column where it
 * was written, its dotted path and a message that says what is expected.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileManifestText, formatProblem, type ManifestProblem } from '../../src/manifest/index.js';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

function problemsOf(text: string): readonly ManifestProblem[] {
  const result = compileManifestText(text, 'kairos.yaml');
  assert.equal(result.ok, false, 'expected the manifest to be rejected');
  return result.ok ? [] : result.problems;
}

/** The one problem with `code`; fails when there is not exactly one. */
function theProblem(text: string, code: string): ManifestProblem {
  const all = problemsOf(text);
  const matching = all.filter((p) => p.code === code);
  assert.equal(matching.length, 1, `expected one ${code} problem, got:\n${all.map(formatProblem).join('\n')}`);
  return matching[0] as ManifestProblem;
}

function assertAt(p: ManifestProblem, line: number, col: number, path: string): void {
  assert.deepEqual({ line: p.line, col: p.col, path: p.path }, { line, col, path }, formatProblem(p));
}

describe('YAML problems', () => {
  test('a syntax error is reported at its line and column, and nothing else is checked', () => {
    const text = yaml('project: demo', 'jobs:', '  train:', '    run: echo hi', '    schedule: "0 * * * *', '    retries: 1');
    const all = problemsOf(text);
    assert.ok(all.every((p) => p.code === 'yaml_syntax'));
    const p = theProblem(text, 'yaml_syntax');
    assert.equal(p.file, 'kairos.yaml');
    assert.match(p.message, /^invalid YAML: /);
    assert.equal(p.line, 7);
    assert.equal(p.col, 1);
  });

  test('a nested mapping on one line is a syntax error at the second colon', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  a: run: echo'), 'yaml_syntax');
    assertAt(p, 3, 6, '');
  });

  test('an unquoted cron starting with * is explained as a YAML alias', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  tick:', '    run: echo', '    schedule: */5 * * * *'), 'yaml_syntax');
    assert.equal(p.line, 5);
    assert.equal(p.col, 15);
    assert.match(p.message, /quote it, e\.g\. "\*\/5 \* \* \* \*"/);
  });

  test('a key written twice is reported at the second one, naming the line of the first', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  train:', '    run: echo one', '    timeout: 1h', '    run: echo two'), 'duplicate_key');
    assertAt(p, 6, 5, 'jobs.train.run');
    assert.match(p.message, /^duplicate key "run" \(first written on line 4\)/);
  });

  test('two YAML documents in one file are refused', () => {
    const p = theProblem(yaml('project: a', '---', 'project: b'), 'yaml_syntax');
    assert.equal(p.line, 2);
    assert.match(p.message, /one YAML document/);
  });
});

describe('schema problems', () => {
  test('an unknown key is reported at the key, with the closest valid key and the allowed ones', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  train:', '    run: python train.py', '    schedul: "0 3 * * *"'), 'unknown_key');
    assertAt(p, 5, 5, 'jobs.train.schedul');
    assert.equal(
      p.message,
      'unknown key "schedul"; did you mean "schedule"? allowed: description, run, schedule, params, env, timeout, cell_timeout, grace, start_timeout, retries, pool, resources, secrets, workdir, environment, check, notify, network, inputs, retention, service',
    );
  });

  test('an unknown key inside a union-typed mapping lists that mapping\'s keys', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  train:', '    run: x', '    retries: {max: 2, dealy: 1m}'), 'unknown_key');
    assertAt(p, 5, 23, 'jobs.train.retries.dealy');
    assert.equal(p.message, 'unknown key "dealy"; did you mean "delay"? allowed: max, delay, backoff, max_delay, jitter, on');
  });

  test('a job written at the top level is pointed to `jobs`', () => {
    const p = theProblem(yaml('project: demo', 'train:', '  run: echo'), 'unknown_key');
    assertAt(p, 2, 1, 'train');
    assert.match(p.message, /put it under "jobs"/);
  });

  test('a value of the wrong type says what is expected and what was found, at the value', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  train:', '    run: x', '    retries:', '      max: three'), 'invalid_type');
    assertAt(p, 6, 12, 'jobs.train.retries.max');
    assert.equal(p.message, 'expected an integer ≥ 0, got "three"');
    assert.equal(formatProblem(p), 'kairos.yaml:6:12: jobs.train.retries.max: expected an integer ≥ 0, got "three"');
  });

  test('a retry count of the wrong type names both accepted forms', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  train:', '    run: x', '    retries: three'), 'invalid_type');
    assertAt(p, 5, 14, 'jobs.train.retries');
    assert.match(p.message, /^expected an integer ≥ 0 \(a retry count\) or a mapping with max, .*, got "three"$/);
  });

  test('a number out of range is an invalid value', () => {
    const p = theProblem(yaml('project: demo', 'pools:', '  gpu: {concurrency: 0}'), 'invalid_value');
    assertAt(p, 3, 22, 'pools.gpu.concurrency');
    assert.equal(p.message, 'expected an integer ≥ 1, got 0');
  });

  test('a word not in the list suggests the closest allowed word', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  a:', '    run: x', '    schedule: {cron: "0 * * * *", catchup: lates}'), 'invalid_value');
    assertAt(p, 5, 44, 'jobs.a.schedule.catchup');
    assert.equal(p.message, 'expected one of "none", "latest", "all", got "lates"; did you mean "latest"?');
  });

  test('an invalid cron expression names the field and why', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  a:', '    run: x', '    schedule: "61 * * * *"'), 'invalid_cron');
    assertAt(p, 5, 15, 'jobs.a.schedule');
    assert.match(p.message, /^invalid cron expression "61 \* \* \* \*": minute field: /);
  });

  test('a cron expression that can never fire (30 February) is refused', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  a:', '    run: x', '    schedule:', '      cron: "0 0 30 2 *"'), 'invalid_cron');
    assertAt(p, 6, 13, 'jobs.a.schedule.cron');
    assert.match(p.message, /day-of-month/);
  });

  test('an unknown time zone is refused with the closest IANA name', () => {
    const p = theProblem(yaml('project: demo', 'defaults:', '  timezone: Europe/Pariss'), 'invalid_timezone');
    assertAt(p, 3, 13, 'defaults.timezone');
    assert.equal(p.message, 'unknown time zone "Europe/Pariss"; did you mean "Europe/Paris"? use an IANA name such as "Europe/Paris" or "UTC"');
  });

  test('a bad duration says the allowed form', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  a:', '    run: x', '    timeout: 5 minutes'), 'invalid_duration');
    assertAt(p, 5, 14, 'jobs.a.timeout');
    assert.match(p.message, /^expected a duration such as 30s, 10m, 2h .*, got "5 minutes"$/);
  });

  test('a duration written as a bare number is a bad duration too', () => {
    const p = theProblem(yaml('project: demo', 'defaults:', '  grace: 30'), 'invalid_duration');
    assertAt(p, 3, 10, 'defaults.grace');
    assert.match(p.message, /, got 30$/);
  });

  test('an unsafe job name is reported at the name, and the problems inside that job too', () => {
    const text = yaml('project: demo', 'jobs:', '  "train model":', '    run: x', '    timout: 1h');
    const name = theProblem(text, 'invalid_name');
    assertAt(name, 3, 3, 'jobs.train model');
    assert.equal(name.message, 'job name "train model" is not valid: use a letter, then up to 62 letters, digits, "_" or "-"');
    assertAt(theProblem(text, 'unknown_key'), 5, 5, 'jobs.train model.timout');
  });

  test('an unsafe project name is refused', () => {
    const p = theProblem(yaml('project: My Project'), 'invalid_name');
    assertAt(p, 1, 10, 'project');
  });

  test('a param default that does not fit its type is refused at the default', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  a:', '    run: x', '    params:', '      n: {type: integer, default: abc}'), 'invalid_default');
    assertAt(p, 6, 35, 'jobs.a.params.n.default');
    assert.equal(p.message, 'expected an integer, got "abc"');
  });

  test('a param default outside its enum is refused', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  a:', '    run: x', '    params:', '      split: {enum: [train, test], default: tset}'), 'invalid_default');
    assertAt(p, 6, 45, 'jobs.a.params.split.default');
    assert.equal(p.message, 'expected one of the enum values "train", "test", got "tset"; did you mean "test"?');
  });

  test('a date default must be a real calendar date', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  a:', '    run: x', '    params:', '      day:', '        type: date', '        default: 2023-02-29'), 'invalid_default');
    assertAt(p, 8, 18, 'jobs.a.params.day.default');
  });

  test('a reference to an undefined pool lists the defined ones', () => {
    const p = theProblem(yaml('project: demo', 'pools:', '  gpu: {concurrency: 2}', 'jobs:', '  a:', '    run: x', '    pool: gpus'), 'unknown_reference');
    assertAt(p, 7, 11, 'jobs.a.pool');
    assert.equal(p.message, 'unknown pool "gpus"; did you mean "gpu"? defined pools: "default", "gpu"');
  });

  test('an environment is exactly one kind, and python-only keys need python', () => {
    const both = theProblem(yaml('project: demo', 'environments:', '  e:', '    python: "3.11"', '    node: package.json'), 'invalid_value');
    assertAt(both, 5, 11, 'environments.e.node');
    assert.match(both.message, /an environment is one kind: choose one of "python", "node"|an environment is one kind/);
    const none = theProblem(yaml('project: demo', 'environments:', '  e:', '    requirements: r.txt'), 'missing_key');
    assert.match(none.message, /an environment needs one of/);
    const stray = theProblem(yaml('project: demo', 'environments:', '  e:', '    node: package.json', '    index_urls: ["https://x.example/simple/"]'), 'invalid_value');
    assert.match(stray.message, /`index_urls` applies to a python environment only/);
    const bad = theProblem(yaml('project: demo', 'environments:', '  e:', '    python: "three"'), 'invalid_value');
    assert.match(bad.message, /expected a Python version such as "3\.11"/);
  });

  test('a reference to an undefined environment says none is defined', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  a:', '    run: x', '    environment: py311'), 'unknown_reference');
    assertAt(p, 5, 18, 'jobs.a.environment');
    assert.match(p.message, /^unknown environment "py311"; none is defined/);
  });

  test('a missing required key is reported at the mapping that should hold it', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  train:', '    timeout: 1h', '    retries: 2'), 'missing_key');
    assertAt(p, 4, 5, 'jobs.train');
    assert.match(p.message, /^missing required key "run": /);
  });

  test('an empty file is missing its project', () => {
    const p = theProblem('', 'missing_key');
    assertAt(p, 1, 1, '');
    assert.match(p.message, /^missing required key "project"/);
  });

  test('a document that is not a mapping says what a manifest is', () => {
    const p = theProblem(yaml('- a', '- b'), 'invalid_type');
    assertAt(p, 1, 1, '');
    assert.match(p.message, /^expected a mapping with the keys project, .*, got a list$/);
  });

  test('params whose names become the same environment variable are refused', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  a:', '    run: x', '    params:', '      day: {type: date}', '      DAY: {type: date}'), 'duplicate_name');
    assertAt(p, 7, 7, 'jobs.a.params.DAY');
    assert.match(p.message, /KAIROS_PARAM_DAY/);
  });

  test('env vars named KAIROS_… are reserved', () => {
    const p = theProblem(yaml('project: demo', 'jobs:', '  a:', '    run: x', '    env:', '      KAIROS_JOB: mine'), 'reserved_name');
    assertAt(p, 6, 7, 'jobs.a.env.KAIROS_JOB');
  });

  test('a workdir outside the project is refused', () => {
    const text = yaml('project: demo', 'jobs:', '  a:', '    run: x', '    workdir: src/../../etc', '  b:', '    run: x', '    workdir: /etc');
    const all = problemsOf(text).filter((p) => p.code === 'invalid_path');
    assert.deepEqual(all.map((p) => [p.line, p.col, p.path]), [[5, 14, 'jobs.a.workdir'], [8, 14, 'jobs.b.workdir']]);
  });

  test('secret names and memory sizes are checked', () => {
    const text = yaml('project: demo', 'jobs:', '  a:', '    run: x', '    secrets: [API_KEY, db-password]', '    resources: {memory: 2GB, cpu: 0.5}');
    assertAt(theProblem(text, 'invalid_name'), 5, 24, 'jobs.a.secrets.1');
    assertAt(theProblem(text, 'invalid_size'), 6, 25, 'jobs.a.resources.memory');
  });

  test('every problem is reported at once, sorted by line and column', () => {
    const text = yaml(
      'project: demo',
      'defaults:',
      '  timezone: Mars/Olympus',
      'jobs:',
      '  train:',
      '    run: python train.py',
      '    schedule: "0 25 * * *"',
      '    retries: {max: -1}',
      '    pool: nowhere',
      '    timout: 2h',
    );
    const all = problemsOf(text);
    assert.deepEqual(
      all.map((p) => [p.line, p.code]),
      [
        [3, 'invalid_timezone'],
        [7, 'invalid_cron'],
        [8, 'invalid_value'],
        [9, 'unknown_reference'],
        [10, 'unknown_key'],
      ],
    );
  });

  test('formatProblem omits the path for problems about the whole file', () => {
    assert.equal(formatProblem({ file: 'k.yaml', line: 1, col: 1, path: '', code: 'missing_key', message: 'missing' }), 'k.yaml:1:1: missing');
    assert.equal(formatProblem({ file: 'k.yaml', line: 2, col: 3, path: 'jobs.a', code: 'x', message: 'bad' }), 'k.yaml:2:3: jobs.a: bad');
  });
});
