/**
 * Runs in a Python environment, end to end: `kairos up` in-process (real SQLite, real worker, real processes),
 * pip against a package index on loopback. The environment is built once and reused, recorded on each
 * attempt (hash and packages), shown by the API and `kairos runs --json`, and a rerun of an old run uses the
 * environment recorded with it even after the index moved on and the cache was emptied.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { EnvCache } from '../../src/worker/envs/index.js';
import { cli, tempDir, writeProject } from '../helpers.js';
import { startIndex, SYSTEM_PYTHON, type PackageIndex } from './package-index.js';

const manifest = (indexUrl: string) => `
project: envs
environments:
  py:
    python: ${SYSTEM_PYTHON}
    requirements: requirements.txt
    index_urls: [${indexUrl}]
  solo:
    python: ${SYSTEM_PYTHON}
    requirements: solo.txt
    index_urls: [${indexUrl}]
  broken:
    python: ${SYSTEM_PYTHON}
    requirements: broken.txt
    index_urls: [${indexUrl}]
jobs:
  show:
    environment: py
    run: [python, -c, "import sys, tinypkg; print('tinypkg', tinypkg.VERSION); print('prefix', sys.prefix)"]
  solo:
    environment: solo
    run: [python, -c, "import tinydep; print('tinydep', tinydep.VERSION)"]
  broken:
    environment: broken
    run: [python, -c, "print('never')"]
  plain:
    run: "echo plain"
`;

interface AttemptView {
  number: number;
  env_hash: string | null;
  env_packages: { name: string; version: string }[] | null;
}

describe('runs in a Python environment', () => {
  const dir = tempDir('kairos-env-runs-');
  let index: PackageIndex;
  let up: Embedded;
  let client: KairosClient;

  const runToEnd = async (job: string) => {
    const run = await client.createRun(job, {});
    return client.getRun(run.id, 120);
  };
  const logText = async (id: string) => (await client.logs(id)).lines.map((l) => l.line).join('\n');
  const attempts = async (id: string) => (await client.attempts(id)).attempts as unknown as AttemptView[];

  before(async () => {
    index = await startIndex([
      { name: 'tinypkg', version: '1.0', requires: ['tinydep'] },
      { name: 'tinydep', version: '0.2' },
    ]);
    writeProject(dir.path, { 'kairos.yaml': manifest(index.url), 'requirements.txt': 'tinypkg\n', 'solo.txt': 'tinydep==0.2\n', 'broken.txt': 'tinypkg >>> nonsense\n' });
    up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {} });
    client = new KairosClient(up.url);
  });
  after(async () => {
    client?.close();
    await up?.stop(5000);
    await index.close();
    dir.cleanup();
  });

  let firstId = '';
  let firstHash = '';

  test('the first run builds the environment and runs in it; the attempt records its hash and packages', async () => {
    const run = await runToEnd('show');
    assert.equal(run.state, 'succeeded', `${run.reason}\n${await logText(run.id)}`);
    const log = await logText(run.id);
    assert.match(log, /\[kairos\] building environment py/);
    assert.match(log, /tinypkg 1\.0/);
    assert.match(log, new RegExp(`prefix ${join(dir.path, 'data', 'envs', '.store').replaceAll('/', '\\/')}`));
    const [a] = await attempts(run.id);
    assert.match(a?.env_hash ?? '', /^[0-9a-f]{64}$/);
    assert.deepEqual(a?.env_packages, [
      { name: 'tinydep', version: '0.2' },
      { name: 'tinypkg', version: '1.0' },
    ]);
    assert.equal(run.env_hash, a?.env_hash);
    firstId = run.id;
    firstHash = a?.env_hash ?? '';
  });

  test('the next run reuses it without building', async () => {
    const run = await runToEnd('show');
    assert.equal(run.state, 'succeeded');
    const log = await logText(run.id);
    assert.doesNotMatch(log, /building environment/);
    assert.equal((await attempts(run.id))[0]?.env_hash, firstHash);
    const listed = await cli(['runs', '--json', '--server', up.url, '--job', 'show']);
    const runs = JSON.parse(listed.stdout) as { id: string; env_hash: string | null }[];
    assert.equal(runs.length, 2);
    assert.ok(runs.every((r) => r.env_hash === firstHash));
  });

  test('two runs that need a new environment at the same moment build it once', async () => {
    const downloads = () => index.requests.filter((r) => r.startsWith('/files/tinydep-')).length;
    const before = downloads();
    const [a, b] = await Promise.all([client.createRun('solo', {}), client.createRun('solo', {})]);
    const done = await Promise.all([client.getRun(a.id, 120), client.getRun(b.id, 120)]);
    assert.deepEqual(done.map((r) => r.state), ['succeeded', 'succeeded']);
    const logs = await Promise.all([logText(a.id), logText(b.id)]);
    assert.equal(logs.filter((l) => /building environment solo/.test(l)).length, 1, logs.join('\n---\n'));
    assert.equal(downloads() - before, 1);
    const hashes = await Promise.all([attempts(a.id), attempts(b.id)]);
    assert.equal(hashes[0]?.[0]?.env_hash, hashes[1]?.[0]?.env_hash);
  });

  test('a broken requirements file fails its run with pip\'s error; other environments still work', async () => {
    const run = await runToEnd('broken');
    assert.equal(run.state, 'failed');
    assert.match(run.reason ?? '', /environment broken could not be built: pip install failed/);
    assert.match(await logText(run.id), /Invalid requirement/);
    assert.equal((await runToEnd('show')).state, 'succeeded');
    assert.equal((await runToEnd('plain')).state, 'succeeded');
  });

  test('a rerun of an old run uses the environment recorded with it, after the index moved on and the cache was emptied', async () => {
    index.add({ name: 'tinypkg', version: '2.0', requires: ['tinydep'] });
    const removed = await new EnvCache(join(dir.path, 'data', 'envs'), { maxAgeMs: 0 }).evict(Date.now() + 1000);
    assert.ok(removed.includes(firstHash));
    // A new run resolves the requirements again and gets the new version.
    const fresh = await runToEnd('show');
    assert.equal(fresh.state, 'succeeded');
    assert.match(await logText(fresh.id), /tinypkg 2\.0/);
    // The rerun of the first run installs exactly what that run had.
    const rerun = await client.rerun(firstId);
    const done = await client.getRun(rerun.id, 120);
    assert.equal(done.state, 'succeeded', await logText(rerun.id));
    const log = await logText(rerun.id);
    assert.match(log, /tinypkg 1\.0/);
    assert.match(log, /the 2 packages recorded with the original run/);
    const [a] = await attempts(rerun.id);
    assert.equal(a?.env_hash, firstHash);
    assert.deepEqual(a?.env_packages?.find((p) => p.name === 'tinypkg'), { name: 'tinypkg', version: '1.0' });
  });
});
