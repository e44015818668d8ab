/**
 * Remote workers: `kairos up --concurrency 0` as the control plane and `kairos worker` processes that pull
 * runs over HTTP, each with its own bundle cache. A worker frozen (SIGSTOP) past its lease comes back to find
 * its reports refused, and exactly one attempt of the run succeeds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { exited, freePort, isAlive, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

describe('remote workers', () => {
  const dir = tempDir();
  let port = 0;
  let client: KairosClient;
  const procs: ReturnType<typeof spawnCli>[] = [];
  const server = () => `http://127.0.0.1:${port}`;
  // The jobs leave marks in the test's directory: shared with their sandboxes (which otherwise have a /tmp of their own).
  const startWorker = (id: string) => {
    const w = spawnCli(['worker', '--server', server(), '--id', id, '--data', join(dir.path, `cache-${id}`), '--concurrency', '1', '--grace', '1', '--sandbox-bind', dir.path]);
    procs.push(w);
    return w;
  };

  before(async () => {
    writeProject(dir.path, {
      'project/kairos.yaml': `project: remote
jobs:
  hello:
    run: ["sh", "-c", "cat data/greeting.txt; echo worker-side $KAIROS_ATTEMPT"]
  slow:
    run: "echo begin; sleep 4; echo done; touch $MARKS/done.$KAIROS_ATTEMPT"
    env:
      MARKS: ${dir.path}
    retries:
      max: 2
      delay: 0s
      on: [lost]
  frozen:
    # Attempt 1 would outlive any freeze the test makes; the ones after it end at once.
    run: 'echo begin; if [ "$KAIROS_ATTEMPT" = 1 ]; then sleep 300; fi; echo done; touch $MARKS/done.$KAIROS_ATTEMPT'
    env:
      MARKS: ${dir.path}
    retries:
      max: 2
      delay: 0s
      on: [lost]
`,
      'project/data/greeting.txt': 'hello from the bundle\n',
    });
    port = await freePort();
    client = new KairosClient(server());
    procs.push(spawnCli(['up', join(dir.path, 'project'), '--port', String(port), '--data', join(dir.path, 'server-data'), '--concurrency', '0', '--lease', '2s']));
    await waitFor('the server', () => client.health(), 20_000);
  });

  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGCONT');
        p.child.kill('SIGKILL');
        await exited(p.child);
      }
    }
    dir.cleanup();
  });

  test('a worker on another cache downloads the bundle, runs the job and ships its log', async () => {
    startWorker('a');
    const run = await client.createRun('hello', {});
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'succeeded', done.reason ?? '');
    assert.deepEqual((await client.logs(run.id)).lines.map((l) => l.line), ['hello from the bundle', 'worker-side 1']);
    assert.ok(existsSync(join(dir.path, 'cache-a', 'bundles', done.bundle_hash, 'data', 'greeting.txt')));
    const attempts = (await client.attempts(run.id)).attempts as { worker_id: string }[];
    assert.equal(attempts[0]?.worker_id, 'a');
  });

  test('a worker frozen past its lease: the run is retried elsewhere, its late reports are refused, one attempt succeeds', { timeout: 600_000 }, async () => {
    const a = procs.find((p) => p.output().includes('worker a ')) ?? startWorker('a');
    const run = await client.createRun('frozen', {});
    await waitFor('attempt 1 to print on worker a', async () => (await client.logs(run.id)).lines.some((l) => l.line === 'begin'), 20_000);
    const pid = Number(((await client.attempts(run.id)).attempts[0] as { pid: number }).pid);
    assert.ok(pid > 0 && isAlive(pid), `attempt 1's process ${pid} is running`);
    const b = startWorker('b');
    a.child.kill('SIGSTOP');
    try {
      const done = await client.getRun(run.id, 120);
      assert.equal(done.state, 'succeeded', done.reason ?? '');
      const attempts = (await client.attempts(run.id)).attempts as { number: number; state: string; worker_id: string; reason: string | null }[];
      assert.deepEqual(attempts.map((x) => [x.number, x.state, x.worker_id]), [[1, 'lost', 'a'], [2, 'succeeded', 'b']]);
      assert.match(attempts[0]?.reason ?? '', /lease expired/);
      // Attempt 1 would sleep for minutes; the frozen worker's launcher kills it once the worker has not
      // renewed within the lease (its watchdog), so the two attempts never run side by side for long.
      await waitFor('attempt 1 to be killed while its worker is frozen', () => !isAlive(pid), 60_000);
      assert.equal(existsSync(join(dir.path, 'done.1')), false, 'attempt 1 was killed, not left to finish');
    } finally {
      a.child.kill('SIGCONT');
    }
    // Back from the freeze, worker a tries to renew and report; the server refuses.
    await waitFor('worker a to be told its lease is gone', () => /lease on run \S+ attempt 1 was refused/.test(a.output()), 20_000);
    await waitFor('worker a to finish reporting', () => existsSync(join(dir.path, 'done.2')), 20_000);
    const after = await client.getRun(run.id);
    assert.equal(after.state, 'succeeded');
    const attempts = (await client.attempts(run.id)).attempts as { state: string }[];
    assert.deepEqual(attempts.map((x) => x.state), ['lost', 'succeeded']);
    // Nothing attempt 1 printed after it was given up made it into the log.
    const first = (await client.logs(run.id)).lines.filter((l) => l.attempt === 1).map((l) => l.line);
    assert.ok(!first.includes('done'), `attempt 1's log: ${first.join(' | ')}`);
    void b;
  });

  test('a worker killed with SIGKILL takes its job with it, and the run is retried on another worker', { timeout: 600_000 }, async () => {
    const c = startWorker('c');
    await waitFor('worker c to register', () => /worker c /.test(c.output()), 20_000);
    // Only c is free: a and b are busy with a long run each.
    const blockers = await Promise.all([client.createRun('slow', {}), client.createRun('slow', {})]);
    const run = await client.createRun('slow', {});
    const holder = await waitFor('a worker to start the run', async () => {
      const at = (await client.attempts(run.id)).attempts as { worker_id: string; started_at: string | null }[];
      return at[0]?.started_at ? at[0].worker_id : null;
    }, 30_000);
    const victim = procs.find((p) => p.output().includes(`worker ${holder} `));
    assert.ok(victim, `the process of worker ${holder}`);
    const pid = Number(((await client.attempts(run.id)).attempts[0] as { pid: number }).pid);
    victim.child.kill('SIGKILL');
    await exited(victim.child);
    await waitFor('its job to be gone', () => !isAlive(pid), 60_000);
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'succeeded', done.reason ?? '');
    const attempts = (await client.attempts(run.id)).attempts as { state: string; worker_id: string }[];
    assert.deepEqual(attempts.map((x) => x.state), ['lost', 'succeeded']);
    assert.notEqual(attempts[1]?.worker_id, holder);
    for (const bl of blockers) assert.ok(['succeeded', 'failed'].includes((await client.getRun(bl.id, 120)).state));
  });
});
