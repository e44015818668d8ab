/**
 * A remote worker whose server goes away: it keeps trying with growing pauses, says so once (not thousands of
 * lines a second), says when the server is back, and claims runs again.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

describe('a remote worker while its server is gone', () => {
  const dir = tempDir();
  const procs: ReturnType<typeof spawnCli>[] = [];

  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await exited(p.child);
      }
    }
    dir.cleanup();
  });

  test('gone for 10 s: the worker writes a few lines, not a flood, and claims again once the server is back', { timeout: 600_000 }, async () => {
    writeProject(dir.path, { 'project/kairos.yaml': 'project: outage\njobs:\n  hello:\n    run: ["echo", "hi"]\n' });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const client = new KairosClient(url);
    const startServer = () => {
      const s = spawnCli(['up', join(dir.path, 'project'), '--port', String(port), '--data', join(dir.path, 'server-data'), '--concurrency', '0']);
      procs.push(s);
      return s;
    };
    let server = startServer();
    await waitFor('the server', () => client.health(), 60_000);
    const worker = spawnCli(['worker', '--server', url, '--id', 'w', '--data', join(dir.path, 'cache'), '--concurrency', '1']);
    procs.push(worker);
    await waitFor('the worker to start', () => worker.output().includes('kairos: worker w '), 60_000);
    const first = await client.createRun('hello', {});
    assert.equal((await client.getRun(first.id, 120)).state, 'succeeded');

    // Taken before the kill: the worker notices at once (its long-poll breaks), maybe before we see the exit.
    const before = worker.output().length;
    server.child.kill('SIGKILL');
    await exited(server.child);
    // The outage itself is the scenario: the server stays away this long whatever the worker does.
    await new Promise((r) => setTimeout(r, 10_000));
    const during = worker.output().slice(before);
    const lines = during.split('\n').filter((l) => l.trim() !== '');
    assert.ok(lines.length < 20, `the worker wrote ${lines.length} lines while the server was gone:\n${lines.slice(0, 40).join('\n')}`);
    assert.match(during, /cannot reach the Kairos server/);
    assert.equal(worker.child.exitCode, null, 'the worker is still running');

    server = startServer();
    await waitFor('the server to come back', () => client.health(), 60_000);
    const second = await client.createRun('hello', {});
    const done = await waitFor('the run to be claimed and finished', async () => {
      const r = await client.getRun(second.id, 10);
      return r.state === 'succeeded' || r.state === 'failed' ? r : null;
    }, 120_000);
    assert.equal(done.state, 'succeeded', done.reason ?? '');
    const attempts = (await client.attempts(second.id)).attempts as { worker_id: string }[];
    assert.equal(attempts[0]?.worker_id, 'w');
    assert.match(worker.output().slice(before), /the control plane answers again/);
  });
});
