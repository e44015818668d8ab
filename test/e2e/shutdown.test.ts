/**
 * A job still running when its worker stops (`kairos up` or `kairos worker` ending) is killed once the grace
 * period runs out: its run's log says so, and why, and the attempt is given up (lost) for the retry policy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startEmbedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { processesOfRun, tempDir, waitFor, writeProject } from '../helpers.js';

test('a job killed at shutdown gets a log line saying it was killed and why', { timeout: 600_000 }, async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  writeProject(dir.path, { 'kairos.yaml': 'project: bye\njobs:\n  sleepy:\n    run: "echo started $$; sleep 300"\n' });
  const opts = { projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {} };
  const up = await startEmbedded(opts);
  let stopped = false;
  t.after(async () => {
    if (!stopped) await up.stop(0);
  });
  const client = new KairosClient(up.url);
  const run = await client.createRun('sleepy', {});
  await waitFor('the job to start', async () => (await client.logs(run.id)).lines.find((l) => l.line.startsWith('started ')));
  assert.ok(processesOfRun(run.id).length > 0, 'the job runs');
  await up.stop(500);
  stopped = true;
  // By its run id: a sandboxed job's own pid is that of its PID namespace.
  assert.deepEqual(processesOfRun(run.id), [], 'the job was killed');

  const again = await startEmbedded(opts);
  t.after(() => again.stop(0));
  const client2 = new KairosClient(again.url);
  const lines = (await client2.logs(run.id)).lines;
  const killed = lines.find((l) => l.stream === 'system' && l.line.startsWith('[kairos] killed:'));
  assert.ok(killed, `a log line saying the job was killed: ${JSON.stringify(lines)}`);
  assert.match(killed.line, /the worker shut down and its grace period \(0\.5 s\) ran out/);
  const attempts = (await client2.attempts(run.id)).attempts as { state: string; reason: string | null }[];
  assert.equal(attempts[0]?.state, 'lost');
  assert.match(attempts[0]?.reason ?? '', /worker shut down/);
});
