/** No descendant outlives its run: not a background child, not `nohup`, not one that called setsid(). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { attemptPaths } from '../../src/worker/attempt.js';
import { hostPid, processesOfRun, isAlive, tempDir, waitFor, writeProject } from '../helpers.js';

const SPAWNER = [
  'P=$KAIROS_ARTIFACTS/pids',
  'sh -c "sleep 300 & echo \\$! >> $P; wait" &',
  'nohup sleep 300 > /dev/null 2>&1 & echo $! >> $P',
  'setsid sleep 300 > /dev/null 2>&1 < /dev/null & echo $! >> $P',
  'setsid sh -c "sleep 300 > /dev/null 2>&1 < /dev/null & echo \\$! >> $P" > /dev/null 2>&1 < /dev/null',
  'while [ $(wc -l < $P) -lt 4 ]; do sleep 0.05; done',
  'echo spawned',
].join('\n');

describe('descendants', () => {
  const dir = tempDir();
  let up: Embedded;
  let client: KairosClient;

  before(async () => {
    writeProject(dir.path, {
      'spawner.sh': SPAWNER + '\nsleep 300\n',
      'quick.sh': SPAWNER + '\n',
      'kairos.yaml': 'project: desc\njobs:\n  spawner:\n    run: ["sh", "spawner.sh"]\n    grace: 1s\n  quick:\n    run: ["sh", "quick.sh"]\n',
    });
    up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {} });
    client = new KairosClient(up.url);
  });

  after(async () => {
    await up.stop(2000);
    dir.cleanup();
  });

  const pidsOf = (runId: string) =>
    readFileSync(join(attemptPaths(up.dataDir, runId, 1).artifacts, 'pids'), 'utf8')
      .trim()
      .split('\n')
      .map(Number);

  test('cancelling a run kills its background, nohup and setsid descendants', async () => {
    const run = await client.createRun('spawner', {});
    await waitFor('the descendants', async () => (await client.logs(run.id)).lines.some((l) => l.line === 'spawned'), 20_000);
    // What the job printed are pids in its sandbox's namespace (if any): find them on this machine.
    const pids = pidsOf(run.id).map((p) => hostPid(run.id, p));
    assert.equal(pids.length, 4);
    assert.ok(pids.every((p) => p !== null && isAlive(p)), 'all four are running before the cancel');
    await client.cancelRun(run.id);
    assert.equal((await client.getRun(run.id, 120)).state, 'cancelled');
    for (const pid of pids) await waitFor(`descendant ${pid} to be gone`, () => pid === null || !isAlive(pid), 60_000);
  });

  test('a run that ends leaves none of its descendants running', async () => {
    const run = await client.createRun('quick', {});
    assert.equal((await client.getRun(run.id, 120)).state, 'succeeded');
    assert.equal(pidsOf(run.id).length, 4);
    await waitFor('every descendant to be gone', () => processesOfRun(run.id).length === 0, 60_000);
  });
});
