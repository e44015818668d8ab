/**
 * `kairos deploy` as a user runs it from a terminal-less CI log: each check shows as it starts and ends, and
 * a second deploy with the same dependencies resolves and builds nothing (the environment cache is the one
 * the local worker uses). Real pip against a package index on loopback, a real `kairos up` server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { cli, tempDir, writeProject } from '../helpers.js';
import { startIndex, SYSTEM_PYTHON, type PackageIndex } from './package-index.js';

describe('kairos deploy shows its checks and reuses built environments', () => {
  const dir = tempDir('kairos-deploy-reuse-');
  const proj = join(dir.path, 'proj');
  let index: PackageIndex;
  let up: Embedded;

  before(async () => {
    index = await startIndex([{ name: 'tinypkg', version: '1.0' }]);
    writeProject(join(dir.path, 'server'), { 'kairos.yaml': 'project: other\njobs:\n  a: {run: "true"}\n' });
    up = await startEmbedded({ projectDir: join(dir.path, 'server'), dataDir: join(dir.path, 'server-data'), port: 0, watch: false, log: () => {} });
    writeProject(proj, {
      'kairos.yaml': `project: reuse
environments:
  py:
    python: ${SYSTEM_PYTHON}
    requirements: requirements.txt
    index_urls: [${index.url}]
jobs:
  show:
    run: ["python", "-c", "import tinypkg; print(tinypkg.VERSION)"]
    environment: py
    check: []
`,
      'requirements.txt': 'tinypkg==1.0\n',
    });
  });
  after(async () => {
    await up?.stop(5000);
    await index.close();
    dir.cleanup();
  });

  test('each check is shown as it starts and ends; the second deploy resolves and builds nothing', async () => {
    const first = await cli(['deploy', proj, '--server', up.url], { timeoutMs: 300_000 });
    assert.equal(first.code, 0, first.stdout + first.stderr);
    // Not a terminal: plain lines, a start and an end for each step.
    assert.match(first.stderr, /^kairos: checking requirements py…$/m);
    assert.match(first.stderr, /^kairos: ok dependencies requirements py: resolved: 1 package from http:\/\/127\.0\.0\.1:\d+\/simple\/ \(\d+\.\d s\)$/m);
    assert.match(first.stderr, /^kairos: checking check show…$/m);
    assert.match(first.stderr, /^kairos: checking check show: building environment py…$/m);
    assert.match(first.stderr, /^kairos: ok code check show: passed in [\d.]+ s in environment py/m);
    assert.match(first.stderr, /^kairos: checks passed in [\d.]+ s$/m);
    // eslint-disable-next-line no-control-regex -- terminal escapes are what this looks for
    assert.doesNotMatch(first.stderr, /\u001b\[/, 'no terminal codes in a log');
    assert.match(first.stdout, /deployed reuse v1/);
    const envs = readdirSync(join(proj, '.kairos', 'envs', '.store'));
    assert.equal(envs.length, 1, 'one environment built');

    // A change that is not a dependency: nothing is resolved against the index, nothing is built.
    writeFileSync(join(proj, 'notes.txt'), 'a change to the code, not to the dependencies\n');
    const before = index.requests.length;
    const second = await cli(['deploy', proj, '--server', up.url], { timeoutMs: 300_000 });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stderr, /^kairos: ok dependencies requirements py: already built here \(environment [0-9a-f]{12}, \d+ packages?\): nothing to resolve/m);
    assert.doesNotMatch(second.stderr, /building environment/);
    assert.equal(index.requests.length, before, 'the index was not asked anything');
    assert.deepEqual(readdirSync(join(proj, '.kairos', 'envs', '.store')), envs, 'no environment was built');
    assert.match(second.stdout, /deployed reuse v2/);
  });
});
