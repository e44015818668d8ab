/**
 * `kairos worker --place slurm` against a real two-node Slurm cluster (tools/slurm-cluster.mjs): runs become
 * sbatch jobs with the job's resources and timeout, their log streams while they run, out of memory / time
 * limit / cancel end with their reasons, a request no node can satisfy is refused with a clear message, a worker
 * killed mid-job adopts the job when it starts again, and a node that fails under an attempt leads to a retry on
 * the other node. Without Slurm the tests are skipped with the reason; under CI=true they fail.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';
import { slurmMissing, startSlurmCluster, type SlurmCluster } from '../places/slurm-cluster.js';

const missing = await slurmMissing(false);

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

interface Attempt {
  number: number;
  state: string;
  worker_id: string;
  reason: string | null;
}

describe('slurm workers', { skip: missing ?? false }, () => {
  const dir = tempDir();
  let c: SlurmCluster;
  let port = 0;
  let client: KairosClient;
  const procs: ReturnType<typeof spawnCli>[] = [];
  const server = () => `http://127.0.0.1:${port}`;
  let marks = '';
  let worker: ReturnType<typeof spawnCli>;
  const slurmEnv = (): Record<string, string> => ({ ...(process.env as Record<string, string>), ...c.env });
  const startWorker = (id: string) => {
    const w = spawnCli(['worker', '--server', server(), '--id', id, '--place', 'slurm', '--partition', c.partition, '--shared-dir', c.sharedDir, '--concurrency', '4', '--grace', '1'], { env: c.env });
    procs.push(w);
    return w;
  };
  const jobOf = async (runId: string, attempt = 1): Promise<string> =>
    waitFor(`the slurm job of ${runId}`, () => {
      const out = execFileSync('squeue', ['-h', '-t', 'all', `--name=kairos-${runId}-${attempt}`, '-o', '%i'], { env: slurmEnv(), encoding: 'utf8' }).trim();
      return out.split('\n')[0] || null;
    });

  before(async () => {
    c = await startSlurmCluster({ accounting: false, gpus: 2 });
    marks = join(c.sharedDir, 'marks');
    mkdirSync(marks, { recursive: true });
    writeProject(dir.path, {
      'project/kairos.yaml': `project: hpc
jobs:
  sized:
    run: echo "cpus=$SLURM_CPUS_PER_TASK gpus=$CUDA_VISIBLE_DEVICES node=$SLURMD_NODENAME"; sleep 2
    resources: { cpu: 2, memory: 300Mi, gpu: 1 }
    timeout: 10m
  stream:
    run: for i in 1 2 3; do echo "tick $i"; sleep 1; done; while [ ! -f $MARKS/go-$KAIROS_RUN_ID ]; do sleep 0.2; done; echo finished
    env: { MARKS: ${join(c.sharedDir, 'marks')} }
  hog:
    run: python3 -c "a = bytearray(600 * 1024 * 1024); import time; time.sleep(5)"
    resources: { memory: 100Mi }
  slow:
    run: echo begin; sleep 300
    timeout: 3s
  huge:
    run: "true"
    resources: { memory: 64Gi }
  adopt:
    run: echo "attempt $KAIROS_ATTEMPT" >> $MARKS/adopt-$KAIROS_RUN_ID; echo one; while [ ! -f $MARKS/go-$KAIROS_RUN_ID ]; do sleep 0.2; done; echo two
    env: { MARKS: ${join(c.sharedDir, 'marks')} }
    retries: { max: 2, delay: 0s, on: [lost] }
  nodefail:
    run: echo "$SLURMD_NODENAME $$" > $MARKS/node-$KAIROS_RUN_ID-$KAIROS_ATTEMPT; echo on $SLURMD_NODENAME; if [ "$KAIROS_ATTEMPT" = 1 ]; then sleep 600; fi; echo done
    env: { MARKS: ${join(c.sharedDir, 'marks')} }
    retries: { max: 2, delay: 0s, on: [lost] }
`,
    });
    port = await freePort();
    client = new KairosClient(server());
    procs.push(spawnCli(['up', join(dir.path, 'project'), '--port', String(port), '--data', join(dir.path, 'server-data'), '--concurrency', '0', '--lease', '20s']));
    await waitFor('the server', () => client.health(), 20_000);
    worker = startWorker('login1');
    await waitFor('the worker', () => worker.output().includes('worker login1 '));
  });

  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await exited(p.child);
      }
    }
    await c?.stop();
    dir.cleanup();
  });

  test('the job\'s cpu, memory, gpu and timeout reach the Slurm job', async () => {
    const run = await client.createRun('sized', {});
    const jobId = await jobOf(run.id);
    const info = execFileSync('scontrol', ['show', 'job', '-o', jobId], { env: slurmEnv(), encoding: 'utf8' });
    assert.match(info, /NumCPUs=2\b/);
    assert.match(info, /mem=300M/);
    assert.match(info, /gpu[:=/]*1|gres\/gpu=1/);
    assert.match(info, /TimeLimit=00:11:00/); // 10m + the grace (30 s), rounded up to minutes
    assert.match(info, /Requeue=0/);
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'succeeded', `${done.reason ?? ''} ${procs.map((p) => p.output()).join('\n').slice(-3000)}`);
    const lines = (await client.logs(run.id)).lines.map((l) => l.line);
    assert.ok(lines.some((l) => /^cpus=2 gpus=0 node=n[12]$/.test(l)), lines.join(' | '));
  });

  test('the log streams while the job runs', async () => {
    const run = await client.createRun('stream', {});
    await waitFor('ticks while running', async () => (await client.logs(run.id)).lines.filter((l) => l.line.startsWith('tick')).length === 3);
    assert.equal((await client.getRun(run.id)).state, 'running');
    writeFileSync(join(marks, `go-${run.id}`), '');
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'succeeded', `${done.reason ?? ''} ${procs.map((p) => p.output()).join('\n').slice(-3000)}`);
    assert.deepEqual((await client.logs(run.id)).lines.map((l) => l.line).filter((l) => !l.startsWith('slurm')), ['tick 1', 'tick 2', 'tick 3', 'finished']);
  });

  test('out of memory, time limit and cancel end with their reasons', async () => {
    const hog = await client.createRun('hog', {});
    const slow = await client.createRun('slow', {});
    const cancelled = await client.createRun('stream', {});
    await waitFor('the cancelled run to print', async () => (await client.logs(cancelled.id)).lines.some((l) => l.line === 'tick 1'));
    await client.cancelRun(cancelled.id);
    const h = await client.getRun(hog.id, 120);
    assert.equal(h.state, 'failed');
    assert.match(h.reason ?? '', /memory|OUT_OF_MEMORY|oom/i);
    const s = await client.getRun(slow.id, 120);
    assert.equal(s.state, 'timed_out', s.reason ?? '');
    const x = await client.getRun(cancelled.id, 120);
    assert.equal(x.state, 'cancelled', x.reason ?? '');
    const jobId = await jobOf(cancelled.id);
    assert.doesNotMatch(execFileSync('squeue', ['-h', '-t', 'all', '-j', jobId, '-o', '%T'], { env: slurmEnv(), encoding: 'utf8' }), /RUNNING|PENDING/);
  });

  test('a request no node can satisfy is refused with a clear message', async () => {
    const run = await client.createRun('huge', {});
    const done = await waitFor('the run to say why', async () => {
      const r = await client.getRun(run.id);
      const why = `${r.reason ?? ''} ${(r as { waiting_reason?: string | null }).waiting_reason ?? ''}`;
      return /64Gi|65536Mi|memory/.test(why) ? r : null;
    }, 120_000);
    assert.match(`${done.reason ?? ''} ${(done as { waiting_reason?: string | null }).waiting_reason ?? ''}`, /memory/);
  });

  test('a worker killed mid-job adopts the job when it starts again; the run finishes exactly once', { timeout: 300_000 }, async () => {
    const w = worker;
    const run = await client.createRun('adopt', {});
    await waitFor('the first line', async () => (await client.logs(run.id)).lines.some((l) => l.line === 'one'));
    w.child.kill('SIGKILL');
    await exited(w.child);
    worker = startWorker('login1');
    await waitFor('the worker again', () => worker.output().includes('worker login1 '));
    writeFileSync(join(marks, `go-${run.id}`), '');
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'succeeded', `${done.reason ?? ''} ${procs.map((p) => p.output()).join('\n').slice(-3000)}`);
    const attempts = (await client.attempts(run.id)).attempts as Attempt[];
    assert.deepEqual(attempts.map((a) => [a.number, a.state]), [[1, 'succeeded']], `${JSON.stringify(attempts)} ${procs.map((p) => p.output()).join('\n').slice(-3000)}`);
    assert.equal(readFileSync(join(marks, `adopt-${run.id}`), 'utf8'), 'attempt 1\n', 'the job ran once');
    const lines = (await client.logs(run.id)).lines.map((l) => l.line).filter((l) => !l.startsWith('slurm'));
    assert.deepEqual(lines.filter((l) => l === 'one' || l === 'two'), ['one', 'two']);
  });

  test('a slurmd killed under an attempt: the attempt is lost (node failure), the retry runs on the other node, the first attempt\'s processes are gone', { timeout: 400_000 }, async () => {
    const run = await client.createRun('nodefail', {});
    const rec1 = join(marks, `node-${run.id}-1`);
    await waitFor('attempt 1 on a node', () => existsSync(rec1) && readFileSync(rec1, 'utf8').includes(' '));
    const [node1, pid1] = readFileSync(rec1, 'utf8').trim().split(' ');
    assert.ok(node1 && pid1);
    await c.killSlurmd(node1);
    const done = await client.getRun(run.id, 300);
    assert.equal(done.state, 'succeeded', `${done.reason ?? ''} ${procs.map((p) => p.output()).join('\n').slice(-3000)}`);
    const attempts = (await client.attempts(run.id)).attempts as Attempt[];
    assert.deepEqual(attempts.map((a) => [a.number, a.state]), [[1, 'lost'], [2, 'succeeded']]);
    assert.match(attempts[0]?.reason ?? '', /node/i);
    const [node2] = readFileSync(join(marks, `node-${run.id}-2`), 'utf8').trim().split(' ');
    assert.notEqual(node2, node1);
    c.restartSlurmd(node1);
    await waitFor('the first attempt\'s processes gone', () => !alive(Number(pid1)), 120_000, 250);
  });
});
