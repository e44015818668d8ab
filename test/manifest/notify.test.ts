/** `notify` in kairos.yaml: rules compile with their defaults, and mistakes are reported at their line and column. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileManifestText, formatProblem, type ManifestProblem } from '../../src/manifest/index.js';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

function problemsOf(text: string): readonly ManifestProblem[] {
  const result = compileManifestText(text, 'kairos.yaml');
  assert.equal(result.ok, false, 'expected the manifest to be rejected');
  return result.ok ? [] : result.problems;
}

function only(text: string): string {
  const all = problemsOf(text);
  assert.equal(all.length, 1, all.map(formatProblem).join('\n'));
  return formatProblem(all[0] as ManifestProblem);
}

describe('notify rules', () => {
  test('compile with their format default, durations in ms, and where they were written; a job without rules gets the defaults', () => {
    const r = compileManifestText(
      yaml(
        'project: demo',
        'defaults:',
        '  notify:',
        '    - {on: failure, webhook: "https://hooks.example.com/a"}',
        'jobs:',
        '  a:',
        '    run: x',
        '    notify:',
        '      - {on: late, webhook: "https://hooks.example.com/b", format: slack, late: {start: 10m, finish: 2h}}',
        '      - {on: metric, webhook: "http://10.0.0.1/c", metric: {name: accuracy, below: 0.9}}',
        '  b:',
        '    run: y',
        '  c:',
        '    run: z',
        '    notify: []',
      ),
      'kairos.yaml',
    );
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
    assert.deepEqual(r.manifest.jobs.a?.notify, [
      { id: 'jobs.a.notify[0]', webhook: 'https://hooks.example.com/b', format: 'slack', on: 'late', startMs: 600_000, finishMs: 7_200_000 },
      { id: 'jobs.a.notify[1]', webhook: 'http://10.0.0.1/c', format: 'json', on: 'metric', metric: 'accuracy', above: null, below: 0.9 },
    ]);
    assert.deepEqual(r.manifest.jobs.b?.notify, [{ id: 'defaults.notify[0]', webhook: 'https://hooks.example.com/a', format: 'json', on: 'failure' }]);
    assert.deepEqual(r.manifest.jobs.c?.notify, []);
  });

  const job = (...rule: string[]) => yaml('project: demo', 'jobs:', '  a:', '    run: x', '    notify:', ...rule);

  test('an unknown event names the allowed ones', () => {
    assert.equal(
      only(job('      - {on: failed, webhook: "https://h.example/x"}')),
      'kairos.yaml:6:14: jobs.a.notify.0.on: expected one of "failure", "recovery", "late", "metric", got "failed"; did you mean "failure"?',
    );
  });

  test('a webhook must be an http or https URL', () => {
    assert.match(only(job('      - on: failure', '        webhook: hooks.example.com/x')), /^kairos\.yaml:7:18: jobs\.a\.notify\.0\.webhook: expected an http or https URL such as/);
    assert.equal(only(job('      - on: failure', '        webhook: "ftp://h.example/x"')), 'kairos.yaml:7:18: jobs.a.notify.0.webhook: expected an http or https URL, got the scheme "ftp"');
  });

  test('`on: late` needs a deadline, `on: metric` a threshold, and each only goes with its event', () => {
    assert.equal(
      only(job('      - on: late', '        webhook: "https://h.example/x"')),
      'kairos.yaml:6:9: jobs.a.notify.0: a rule with `on: late` needs `late: {start: DURATION, finish: DURATION}` (one or both)',
    );
    assert.equal(
      only(job('      - on: late', '        webhook: "https://h.example/x"', '        late: {}')),
      'kairos.yaml:8:15: jobs.a.notify.0.late: expected `start` or `finish` (or both): how long after its tick a run must have started or finished',
    );
    assert.equal(
      only(job('      - on: late', '        webhook: "https://h.example/x"', '        late: {start: soon}')),
      'kairos.yaml:8:23: jobs.a.notify.0.late.start: expected a duration such as 30s, 10m, 2h or 1h30m (units ms, s, m, h, d), got "soon"',
    );
    assert.equal(
      only(job('      - on: metric', '        webhook: "https://h.example/x"', '        metric: {name: acc}')),
      'kairos.yaml:8:17: jobs.a.notify.0.metric: expected `above` or `below` (or both): the threshold the metric must cross',
    );
    assert.equal(
      only(job('      - on: failure', '        webhook: "https://h.example/x"', '        metric: {name: acc, above: 1}')),
      'kairos.yaml:8:9: jobs.a.notify.0.metric: `metric` only applies to `on: metric`, and this rule is `on: failure`',
    );
  });

  test('a misspelt key gets a suggestion, and the missing key is named', () => {
    assert.deepEqual(problemsOf(job('      - {on: failure, webhok: "https://h.example/x"}')).map(formatProblem), [
      'kairos.yaml:6:9: jobs.a.notify.0: missing required key "webhook": an http or https URL',
      'kairos.yaml:6:23: jobs.a.notify.0.webhok: unknown key "webhok"; did you mean "webhook"? allowed: on, webhook, format, late, metric',
    ]);
  });
});
