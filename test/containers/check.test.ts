/**
 * `kairos check` with a container environment: it builds the image (real podman, a private store, the test's
 * own base image) and runs the project's test command inside it; a failing test inside the image fails the
 * check. No container is left behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cli, tempDir, writeProject } from '../helpers.js';
import { importBase, podmanMissing, podmanStore, removeBusyboxTar, type PodmanStore } from './podman-store.js';

const missing = podmanMissing();

describe('kairos check in a container environment', { skip: missing ?? false }, () => {
  const dir = tempDir('kairos-check-image-');
  let store: PodmanStore;

  before(async () => {
    store = podmanStore();
    await importBase(store);
  });

  after(async () => {
    const left = await store.containers();
    await store.cleanup();
    removeBusyboxTar();
    dir.cleanup();
    assert.deepEqual(left, []);
  });

  const project = (name: string, testCommand: string) => {
    const p = join(dir.path, name);
    writeProject(p, {
      'kairos.yaml': `project: ${name}\nenvironments:\n  box:\n    containerfile: Containerfile\n    network: none\ntest:\n  run: ${JSON.stringify(testCommand)}\n  environment: box\njobs:\n  hello:\n    environment: box\n    run: cat /marker.txt\n    check: true\n`,
      Containerfile: 'FROM localhost/kairos-test-base:1\nRUN echo inside-the-image > /marker.txt\n',
      'tests.sh': 'grep -q inside-the-image /marker.txt && test -f kairos.yaml && echo "tests ran in $(pwd)"\n',
    });
    return p;
  };

  test('builds the image and runs the test command and the smoke run inside it', async () => {
    const p = project('good', 'sh tests.sh');
    const r = await cli(['check', p, '--skip', 'dependencies', '--data', join(dir.path, 'data'), '--json'], { env: store.env, timeoutMs: 600_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const report = JSON.parse(r.stdout) as { checks: { name: string; status: string; message: string }[] };
    const byName = new Map(report.checks.map((c) => [c.name, c]));
    assert.equal(byName.get('test')?.status, 'pass', r.stdout);
    assert.match(byName.get('test')?.message ?? '', /in environment box/);
    assert.equal(byName.get('check hello')?.status, 'pass', r.stdout);
  });

  test('a test that fails inside the image fails the check', async () => {
    const p = project('bad', 'test -f /not-in-the-image');
    const r = await cli(['check', p, '--skip', 'dependencies', '--data', join(dir.path, 'data'), '--json'], { env: store.env, timeoutMs: 600_000 });
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  });
});
