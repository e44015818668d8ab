/**
 * Kairos environments and the team's index: an internal name is never resolved from another index (a
 * same-named package on an upstream loopback index is never installed), the attempt records the internal
 * version it used, and editing a local-path requirement builds a new environment that runs the new code.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { cli, tempDir, writeProject } from '../helpers.js';
import { startIndex, type PackageIndex } from '../envs/package-index.js';
import { SYSTEM_PYTHON, twineUpload, writeWheel } from './helpers.js';

const manifest = (upstream: string) => `
project: confusion
environments:
  team:
    python: ${SYSTEM_PYTHON}
    requirements: requirements.txt
    index_urls: [${upstream}]
  local:
    python: ${SYSTEM_PYTHON}
    requirements: local.txt
    index_urls: [${upstream}]
    system_site_packages: true
jobs:
  show:
    environment: team
    run: [python, -c, "import teamlib, tinydep; print('teamlib', teamlib.VERSION, 'tinydep', tinydep.VERSION)"]
  local:
    environment: local
    run: [python, -c, "import locallib; print('locallib says', locallib.VALUE)"]
`;

describe('environments resolve internal names from the internal index only', () => {
  const dir = tempDir('kairos-pypi-envs-');
  let upstream: PackageIndex;
  let up: Embedded;
  let client: KairosClient;
  const logText = async (id: string) => (await client.logs(id)).lines.map((l) => l.line).join('\n');
  const runToEnd = async (job: string) => client.getRun((await client.createRun(job, {})).id, 120);

  before(async () => {
    // The upstream index has a package named like the internal one, with a higher version: the attack.
    upstream = await startIndex([
      { name: 'teamlib', version: '99.0' },
      { name: 'tinydep', version: '0.2' },
    ]);
    const proj = join(dir.path, 'proj');
    writeProject(proj, {
      'kairos.yaml': manifest(upstream.url),
      'requirements.txt': 'teamlib\n',
      'local.txt': './lib/locallib\n',
      'lib/locallib/setup.py': 'from setuptools import setup\nsetup(name="locallib", version="0.1", packages=["locallib"])\n',
      'lib/locallib/locallib/__init__.py': 'VALUE = 1\n',
    });
    up = await startEmbedded({ projectDir: proj, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {} });
    client = new KairosClient(up.url);
    const wheels = join(dir.path, 'wheels');
    mkdirSync(wheels);
    const r = await twineUpload(up.url, [writeWheel(wheels, { name: 'teamlib', version: '1.0', requires: ['tinydep'] })], 'unused');
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });
  after(async () => {
    client?.close();
    await up?.stop(5000);
    await upstream?.close();
    dir.cleanup();
  });

  test('the internal teamlib is installed, never the upstream one; other names still come from upstream', async () => {
    const run = await runToEnd('show');
    assert.equal(run.state, 'succeeded', `${run.reason}\n${await logText(run.id)}`);
    assert.match(await logText(run.id), /teamlib 1\.0 tinydep 0\.2/);
    assert.ok(!upstream.requests.some((r) => /teamlib/.test(r)), `the upstream index was asked for teamlib: ${upstream.requests.join(', ')}`);
    assert.ok(upstream.requests.some((r) => r.startsWith('/simple/tinydep')));
    // The attempt recorded the internal version it used; `kairos packages` shows the run.
    const listed = await cli(['packages', 'teamlib', '--json', '--server', up.url]);
    assert.equal(listed.code, 0, listed.stderr);
    const pkg = JSON.parse(listed.stdout) as { versions: { version: string; runs: { run_id: string }[] }[] };
    assert.deepEqual(pkg.versions.find((v) => v.version === '1.0')?.runs.map((r) => r.run_id), [run.id]);
  });

  test('editing a local-path requirement builds a new environment and runs the new code', async () => {
    const first = await runToEnd('local');
    assert.equal(first.state, 'succeeded', `${first.reason}\n${await logText(first.id)}`);
    assert.match(await logText(first.id), /locallib says 1/);
    writeFileSync(join(dir.path, 'proj', 'lib', 'locallib', 'locallib', '__init__.py'), 'VALUE = 2\n');
    const deployed = await up.redeploy();
    assert.ok(deployed.ok && deployed.created);
    const second = await runToEnd('local');
    assert.equal(second.state, 'succeeded', `${second.reason}\n${await logText(second.id)}`);
    const log = await logText(second.id);
    assert.match(log, /building environment local/);
    assert.match(log, /locallib says 2/);
    assert.notEqual(second.env_hash, first.env_hash);
  });
});
