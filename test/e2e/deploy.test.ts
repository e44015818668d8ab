/** Deployments: immutable snapshots, ignore files, redeploy on change, and invalid edits that change nothing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { bundleDir, scanProject } from '../../src/bundle/bundle.js';
import { tempDir, waitFor, writeProject } from '../helpers.js';

test('a run executes in its deployment snapshot: editing files during the run does not change it', async () => {
  const dir = tempDir();
  writeProject(dir.path, {
    'kairos.yaml': 'project: snap\njobs:\n  read:\n    run: "cat message.txt; while [ ! -f $GO ]; do sleep 0.05; done; cat message.txt"\n    env:\n      GO: ' + join(dir.path, 'go') + '\n',
    'message.txt': 'version one\n',
  });
  const up = await startEmbedded({ projectDir: dir.path, port: 0, watch: false, log: () => {}, sandbox: { mode: 'auto', bind: [dir.path] } });
  try {
    const client = new KairosClient(up.url);
    const run = await client.createRun('read', {});
    await waitFor('the first line', async () => (await client.logs(run.id)).lines.length === 1);
    writeFileSync(join(dir.path, 'message.txt'), 'version two\n');
    const redeployed = await up.redeploy();
    assert.ok(redeployed.ok && redeployed.created && redeployed.version === 2);
    writeFileSync(join(dir.path, 'go'), '');
    assert.equal((await client.getRun(run.id, 120)).state, 'succeeded');
    assert.deepEqual((await client.logs(run.id)).lines.map((l) => l.line), ['version one', 'version one']);
    const next = await client.createRun('read', {});
    assert.equal((await client.getRun(next.id, 120)).state, 'succeeded');
    assert.deepEqual((await client.logs(next.id)).lines.map((l) => l.line), ['version two', 'version two']);
    const deps = await client.deployments();
    assert.deepEqual(deps.deployments.map((d) => [d.version, d.active]), [[2, true], [1, false]]);
  } finally {
    await up.stop(1000);
    dir.cleanup();
  }
});

test('an invalid edit leaves the last good deployment active and reports file, line and column', async () => {
  const dir = tempDir();
  writeProject(dir.path, { 'kairos.yaml': 'project: keep\njobs:\n  a:\n    run: "echo a"\n' });
  const logged: string[] = [];
  const up = await startEmbedded({ projectDir: dir.path, port: 0, log: (l) => logged.push(l) });
  try {
    const client = new KairosClient(up.url);
    writeFileSync(join(dir.path, 'kairos.yaml'), 'project: keep\njobs:\n  a:\n    run: "echo a"\n    timeout: soon\n');
    // The watcher notices the change by itself.
    await waitFor('the watcher to report the problem', () => logged.some((l) => /kairos\.yaml:5:14: jobs\.a\.timeout/.test(l)), 10_000);
    const deps = await client.deployments();
    assert.equal(deps.deployments.length, 1, 'nothing new was deployed');
    const run = await client.createRun('a', {});
    assert.equal((await client.getRun(run.id, 120)).state, 'succeeded');
    // A valid edit deploys a new version, again by itself.
    writeFileSync(join(dir.path, 'kairos.yaml'), 'project: keep\njobs:\n  a:\n    run: "echo a"\n  b:\n    run: "echo b"\n');
    await waitFor('version 2', async () => (await client.deployments()).deployments.length === 2, 10_000);
    assert.equal((await client.getRun((await client.createRun('b', {})).id, 30)).state, 'succeeded');
  } finally {
    await up.stop(1000);
    dir.cleanup();
  }
});

test('bundles honour .gitignore and .kairosignore, and never include .git or the data directory', async () => {
  const dir = tempDir();
  writeProject(dir.path, {
    'kairos.yaml': 'project: ign\njobs:\n  a:\n    run: "ls -a"\n',
    '.gitignore': '*.log\nbuild/\n',
    '.kairosignore': 'data/raw/\n',
    'app.log': 'noise',
    'build/out.bin': 'x',
    'data/raw/huge.csv': 'x',
    'data/small.csv': 'a,b',
    'src/.gitignore': 'secret.txt\n',
    'src/secret.txt': 'x',
    'src/main.py': 'print(1)',
    '.git/HEAD': 'ref: refs/heads/main',
    '.kairos/kairos.db': 'x',
  });
  const scanned = await scanProject(dir.path);
  assert.deepEqual(scanned.entries.map((e) => e.path).sort(), ['.gitignore', '.kairosignore', 'data/small.csv', 'kairos.yaml', 'src/.gitignore', 'src/main.py']);
  const again = await scanProject(dir.path);
  assert.equal(again.hash, scanned.hash, 'the same files give the same hash');
  writeFileSync(join(dir.path, 'src', 'main.py'), 'print(2)');
  assert.notEqual((await scanProject(dir.path)).hash, scanned.hash);
  const up = await startEmbedded({ projectDir: dir.path, port: 0, watch: false, log: () => {} });
  try {
    const client = new KairosClient(up.url);
    const run = await client.createRun('a', {});
    await client.getRun(run.id, 120);
    const listing = (await client.logs(run.id)).lines.map((l) => l.line);
    assert.ok(listing.includes('src') && listing.includes('kairos.yaml'));
    assert.ok(!listing.includes('app.log') && !listing.includes('build') && !listing.includes('.git'));
    assert.ok(existsSync(bundleDir(up.dataDir, run.bundle_hash)));
  } finally {
    await up.stop(1000);
    dir.cleanup();
  }
});
