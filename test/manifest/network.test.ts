/** `network` in kairos.yaml: needs compile (defaults' first), credentials and bad endpoints are refused at their line and column. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileManifestText, formatProblem, type ManifestProblem } from '../../src/manifest/index.js';
import { parseEndpoint } from '../../src/model/network.js';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

function problemsOf(text: string): readonly ManifestProblem[] {
  const result = compileManifestText(text, 'kairos.yaml');
  assert.equal(result.ok, false, 'expected the manifest to be rejected');
  return result.ok ? [] : result.problems;
}

describe('network needs', () => {
  test('compile with defaults: needs added to the defaults\', on_failure fail, 5 s bound, 10 min wait', () => {
    const r = compileManifestText(
      yaml(
        'project: demo',
        'defaults:',
        '  network:',
        '    needs: ["dns:db.internal"]',
        '    on_failure: warn',
        'jobs:',
        '  a:',
        '    run: x',
        '    network:',
        '      needs: ["postgres://db.internal", "https://s3.internal/bucket", "tcp://10.0.0.5:9000"]',
        '      on_failure: wait',
        '      max_wait: 2m',
        '  b:',
        '    run: y',
      ),
      'kairos.yaml',
    );
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
    assert.deepEqual(r.manifest.jobs.a?.network, {
      needs: ['dns:db.internal', 'postgres://db.internal', 'https://s3.internal/bucket', 'tcp://10.0.0.5:9000'],
      onFailure: 'wait',
      timeoutMs: 5000,
      maxWaitMs: 120_000,
    });
    assert.deepEqual(r.manifest.jobs.b?.network, { needs: ['dns:db.internal'], onFailure: 'warn', timeoutMs: 5000, maxWaitMs: 600_000 });
    const none = compileManifestText(yaml('project: demo', 'jobs:', '  a:', '    run: x'), 'kairos.yaml');
    assert.ok(none.ok);
    assert.deepEqual(none.manifest.jobs.a?.network, { needs: [], onFailure: 'fail', timeoutMs: 5000, maxWaitMs: 600_000 });
  });

  test('credentials in an endpoint URL are refused with the line and column', () => {
    const problems = problemsOf(
      yaml(
        'project: demo',
        'jobs:',
        '  a:',
        '    run: x',
        '    network:',
        '      needs:',
        '        - postgres://db:5432',
        '        - "postgres://etl:hunter2@db:5432/warehouse"',
        '        - https://token@s3.internal',
      ),
    );
    assert.deepEqual(
      problems.map((p) => [p.line, p.col, p.path, p.code]),
      [
        [8, 11, 'jobs.a.network.needs.1', 'credentials_in_url'],
        [9, 11, 'jobs.a.network.needs.2', 'credentials_in_url'],
      ],
    );
    assert.match(formatProblem(problems[0] as ManifestProblem), /^kairos\.yaml:8:11: jobs\.a\.network\.needs\.1: credentials in an endpoint URL are not allowed/);
    // The secret itself is never repeated in the message.
    for (const p of problems) assert.doesNotMatch(p.message, /hunter2|token@/);
  });

  test('an endpoint without a port for its scheme, a bad on_failure, a non-URL', () => {
    const problems = problemsOf(
      yaml('project: demo', 'jobs:', '  a:', '    run: x', '    network:', '      needs: ["tcp://host", "not a url"]', '      on_failure: retry'),
    );
    assert.deepEqual(
      problems.map((p) => `${p.line}:${p.col} ${p.code}`),
      ['6:15 invalid_url', '6:29 invalid_url', '7:19 invalid_value'],
    );
  });

  test('endpoints parse with default ports', () => {
    const p = (s: string) => {
      const r = parseEndpoint(s);
      assert.ok(r.ok, s);
      return r.endpoint;
    };
    assert.deepEqual([p('postgres://db').port, p('redis://cache').port, p('https://s3.internal').port, p('http://[::1]:8080/x').port], [5432, 6379, 443, 8080]);
    assert.equal(p('http://[::1]:8080/x').host, '::1');
    assert.equal(p('https://s3.internal/bucket?x=1').path, '/bucket?x=1');
    assert.equal(p('dns:db.internal').kind, 'dns');
    assert.equal(p('kafka://broker').kind, 'tcp');
  });
});
