/** Resource limits per job: memory and CPU through cgroups on this machine; a memory kill says so. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { tempDir, writeProject } from '../helpers.js';

describe('resource limits', () => {
  const dir = tempDir();
  let up: Embedded;
  let client: KairosClient;

  before(async () => {
    writeProject(dir.path, {
      'kairos.yaml': `project: limits
jobs:
  hog:
    run: ["python3", "-c", "x = bytearray(300 * 1024 * 1024); print('allocated')"]
    resources: {memory: 64Mi}
  modest:
    run: ["python3", "-c", "x = bytearray(8 * 1024 * 1024); print('allocated')"]
    resources: {memory: 64Mi}
  spin:
    run: ["python3", "-c", "import time\\nw = time.time(); c = time.process_time()\\nwhile time.time() - w < 2: pass\\nprint('share %.2f' % ((time.process_time() - c) / (time.time() - w)))"]
    resources: {cpu: 0.25}
`,
    });
    up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {} });
    client = new KairosClient(up.url);
  });

  after(async () => {
    await up.stop(2000);
    dir.cleanup();
  });

  test('a job over its memory limit is killed, and its reason says so', async () => {
    const run = await client.createRun('hog', {});
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'failed');
    assert.equal(done.reason, 'killed: out of memory (limit 64Mi)');
    assert.equal(done.reason_code, 'out_of_memory');
    const lines = (await client.logs(run.id)).lines.map((l) => l.line);
    assert.ok(lines.some((l) => /limits: memory 64Mi \(cgroup/.test(l)), lines.join('\n'));
    assert.ok(!lines.includes('allocated'));
  });

  test('a job within its memory limit runs normally', async () => {
    const run = await client.createRun('modest', {});
    assert.equal((await client.getRun(run.id, 120)).state, 'succeeded');
  });

  test('a CPU limit holds a busy job to its share of a core', async () => {
    const run = await client.createRun('spin', {});
    assert.equal((await client.getRun(run.id, 120)).state, 'succeeded');
    const line = (await client.logs(run.id)).lines.map((l) => l.line).find((l) => l.startsWith('share '));
    const share = Number(line?.split(' ')[1]);
    assert.ok(share > 0 && share < 0.5, `the job got ${share} of a core with a limit of 0.25`);
  });
});
