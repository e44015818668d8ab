/** Container environments in kairos.yaml: `image` and `containerfile` compile with their defaults; bad values are refused where they are. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileManifestText, formatProblem, type ManifestProblem } from '../../src/manifest/index.js';
import { parseRegistry, repositoryOf } from '../../src/worker/envs/images.js';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

function problemsOf(text: string): readonly ManifestProblem[] {
  const result = compileManifestText(text, 'kairos.yaml');
  assert.equal(result.ok, false, 'expected the manifest to be rejected');
  return result.ok ? [] : result.problems;
}

describe('container environments', () => {
  test('image and containerfile compile; context defaults to the Containerfile\'s directory, network to host', () => {
    const r = compileManifestText(
      yaml(
        'project: demo',
        'environments:',
        '  etl:',
        '    image: 10.0.0.5:5000/team/etl:2024-06',
        '  train:',
        '    containerfile: docker/Containerfile',
        '    network: none',
        '  root:',
        '    containerfile: Containerfile',
        '    context: .',
        'jobs:',
        '  a:',
        '    run: x',
        '    environment: train',
      ),
      'kairos.yaml',
    );
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n'));
    assert.deepEqual(r.manifest.environments.etl, { kind: 'image', name: 'etl', image: '10.0.0.5:5000/team/etl:2024-06', network: 'host' });
    assert.deepEqual(r.manifest.environments.train, { kind: 'containerfile', name: 'train', containerfile: 'docker/Containerfile', context: 'docker', network: 'none' });
    assert.deepEqual(r.manifest.environments.root, { kind: 'containerfile', name: 'root', containerfile: 'Containerfile', context: '.', network: 'host' });
  });

  test('bad values are refused at their line and column', () => {
    const problems = problemsOf(
      yaml(
        'project: demo',
        'environments:',
        '  a:',
        '    image: "Not A Ref"',
        '  b:',
        '    containerfile: ../outside/Containerfile',
        '  c:',
        '    image: x:1',
        '    containerfile: Containerfile',
        '  d:',
        '    python: "3.11"',
        '    network: none',
        '  e:',
        '    image: x:1',
        '    network: bridge',
        'jobs:',
        '  j:',
        '    run: x',
      ),
    );
    const lines = problems.map(formatProblem);
    assert.ok(lines.some((l) => l.startsWith('kairos.yaml:4:12: environments.a.image:')), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('kairos.yaml:6:20: environments.b.containerfile:')), lines.join('\n'));
    assert.ok(lines.some((l) => /environments\.c.*one kind/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /environments\.d\.network: .*container environment/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('kairos.yaml:15:14: environments.e.network:')), lines.join('\n'));
  });

  test('--registry values and image repositories', () => {
    assert.deepEqual(parseRegistry('10.0.0.5:5000/team'), { base: '10.0.0.5:5000/team', host: '10.0.0.5:5000', tlsVerify: true });
    assert.deepEqual(parseRegistry('http://127.0.0.1:5000'), { base: '127.0.0.1:5000', host: '127.0.0.1:5000', tlsVerify: false });
    assert.equal(parseRegistry('ftp://x:1'), null);
    assert.equal(parseRegistry('host:5000/Team'), null);
    assert.equal(repositoryOf('h:5000/team/etl:1@sha256:' + 'a'.repeat(64)), 'h:5000/team/etl');
    assert.equal(repositoryOf('h:5000/team/etl'), 'h:5000/team/etl');
    assert.equal(repositoryOf('python:3.11'), 'python');
  });
});
