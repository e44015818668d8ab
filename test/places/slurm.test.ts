/**
 * The Slurm place against a real two-node cluster (tools/slurm-cluster.mjs): what an attempt asks for reaches
 * the job (scontrol show job), the log streams while it runs, each way of ending has its reason, an impossible
 * request is refused with a clear message, a new place (a restarted worker) adopts a job by name, and a node
 * that fails under an attempt ends it `node_failure` while the retry runs on the other node.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SlurmPlace } from '../../src/worker/places/slurm.js';
import { placeAttemptName, type PlaceAttemptSpec } from '../../src/worker/places/place.js';
import { waitFor } from '../helpers.js';
import { slurmMissing, startSlurmCluster, type SlurmCluster } from './slurm-cluster.js';
import { placeConformance } from './conformance.js';

const missing = await slurmMissing(true);
// One cluster (with accounting and two fake GPUs per node) for the conformance suite and the Slurm tests.
const cluster: SlurmCluster | null = missing ? null : await startSlurmCluster({ accounting: true, gpus: 2 });
after(async () => {
  await cluster?.stop();
});

if (cluster) {
  const c = cluster;
  placeConformance('slurm', () => Promise.resolve(new SlurmPlace({ sharedDir: c.sharedDir, partition: c.partition, env: { ...(process.env as Record<string, string>), ...c.env }, pollMs: 300 })), {
    dir: () => join(c.sharedDir, 'conformance'),
    limitsMemory: true,
    timeLimitMs: 2000,
  });
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

describe('slurm place', { skip: missing ?? false }, () => {
  const c = cluster as SlurmCluster;
  let place: SlurmPlace;
  let n = 0;
  const env = (): Record<string, string> => ({ ...(process.env as Record<string, string>), ...c.env });
  const scontrol = (jobId: string): string => execFileSync('scontrol', ['show', 'job', '-o', jobId], { env: env(), encoding: 'utf8' });
  const squeueIds = (): string => execFileSync('squeue', ['-h', '-t', 'all', '-o', '%i %j %T %N'], { env: env(), encoding: 'utf8' });

  /** A spec with its lines collected. */
  function spec(script: string, over: Partial<PlaceAttemptSpec> = {}, runId = `r${++n}`, attempt = 1) {
    const lines: { stream: string; line: string; at: number }[] = [];
    const notes: string[] = [];
    const work = join(c.sharedDir, 'work', runId);
    mkdirSync(work, { recursive: true });
    const s: PlaceAttemptSpec = {
      name: placeAttemptName(runId, attempt),
      command: { kind: 'shell', script },
      cwd: work,
      env: { KAIROS_RUN_ID: runId, GREETING: 'hello' },
      resources: { cpu: 1, memoryBytes: 200 * 1024 * 1024 },
      timeLimitMs: null,
      graceMs: 1000,
      paths: { readOnly: [], writable: [], writableFiles: [] },
      onLines: (stream, ls) => {
        for (const line of ls) lines.push({ stream, line, at: Date.now() });
      },
      note: (l) => notes.push(l),
      ...over,
    };
    return { s, lines, notes, work };
  }

  before(() => {
    place = new SlurmPlace({ sharedDir: c.sharedDir, partition: c.partition, env: env(), pollMs: 300 });
  });
  after(async () => {
    await place?.close();
  });

  test('offer comes from the partition', async () => {
    const o = await place.offer();
    assert.deepEqual({ cpu: o.cpu, gpu: o.gpu, nodes: o.nodes, slots: o.slots, maxTimeMs: o.maxTimeMs }, { cpu: 2, gpu: 2, nodes: 2, slots: 4, maxTimeMs: null });
    assert.equal(o.memoryBytes, 2048 * 1024 * 1024);
    assert.equal((await place.health()).ok, true);
  });

  test('cpu, memory, gpu and time reach the job; variables (secrets) never reach sbatch, the job record or a readable file', async () => {
    const secret = "s3cr3t 'quoted' $HOME\nsecond line";
    const { s, lines } = spec('echo "gpus=$CUDA_VISIBLE_DEVICES"; echo "$TOKEN"; echo "cpus=$SLURM_CPUS_PER_TASK"; sleep 3', {
      resources: { cpu: 2, memoryBytes: 300 * 1024 * 1024, gpu: 1 },
      timeLimitMs: 5 * 60_000,
      env: { TOKEN: secret },
    });
    const a = await place.start(s);
    const started = await a.started;
    const jobId = /slurm job (\d+)/.exec(started.where ?? '')?.[1];
    assert.ok(jobId, started.where);
    const info = scontrol(jobId);
    assert.match(info, /NumCPUs=2\b/);
    assert.match(info, /mem=300M/);
    assert.match(info, /gres\/gpu=1|gres:gpu:1|gpu:1/);
    assert.match(info, /TimeLimit=00:06:00/); // 5 min + 1 s grace, rounded up to whole minutes
    assert.match(info, /Requeue=0/);
    assert.match(info, new RegExp(`JobName=${s.name}\\b`));
    assert.doesNotMatch(info, /s3cr3t/);
    // The env file is gone once the job runs; nothing in the attempt directory holds the secret.
    const dir = join(c.sharedDir, 'attempts', s.name);
    await waitFor('the output', () => lines.length >= 3);
    assert.equal(existsSync(join(dir, 'env')), false);
    for (const f of readdirSync(dir)) if (f !== 'stdout') assert.doesNotMatch(readFileSync(join(dir, f), 'utf8'), /s3cr3t/, f);
    const end = await a.ended;
    assert.equal(end.reason, 'exit_code');
    assert.equal(end.exitCode, 0);
    assert.deepEqual(lines.map((l) => l.line), ['gpus=0', "s3cr3t 'quoted' $HOME", 'second line', 'cpus=2']);
  });

  test('the log streams while the job runs; exit status and stderr are kept', async () => {
    const { s, lines } = spec('for i in 1 2 3; do echo "line $i"; sleep 1; done; echo oops >&2; while [ ! -f go ]; do sleep 0.2; done; echo "$GREETING"; exit 3');
    const a = await place.start(s);
    await waitFor('lines before the end', () => lines.some((l) => l.line === 'oops'));
    const endedYet = await Promise.race([a.ended.then(() => true), new Promise((r) => setTimeout(() => r(false), 50))]);
    assert.equal(endedYet, false, 'the job is still running while its lines arrive');
    execFileSync('touch', [join(s.cwd, 'go')]);
    const end = await a.ended;
    assert.deepEqual({ reason: end.reason, exitCode: end.exitCode }, { reason: 'exit_code', exitCode: 3 });
    assert.deepEqual(lines.filter((l) => l.stream === 'stdout').map((l) => l.line), ['line 1', 'line 2', 'line 3', 'hello']);
    assert.deepEqual(lines.filter((l) => l.stream === 'stderr').map((l) => l.line), ['oops']);
  });

  test('out of memory ends oom', async () => {
    const { s } = spec('python3 -c "a = bytearray(500 * 1024 * 1024); import time; time.sleep(5)"', { resources: { cpu: 1, memoryBytes: 100 * 1024 * 1024 } });
    const end = await (await place.start(s)).ended;
    assert.equal(end.reason, 'oom', JSON.stringify(end));
    assert.match(end.detail ?? '', /OUT_OF_MEMORY/);
  });

  test('the time limit ends time_limit within seconds of the limit (Slurm only counts minutes)', async () => {
    const { s, lines } = spec('echo begun; sleep 120', { timeLimitMs: 3000 });
    const a = await place.start(s);
    const started = await a.started;
    const end = await a.ended;
    assert.equal(end.reason, 'time_limit');
    assert.ok(Date.now() - started.startedAt < 60_000, 'ended well before Slurm\'s own minute');
    assert.deepEqual(lines.map((l) => l.line), ['begun']);
  });

  test('cancel uses scancel and ends cancelled', async () => {
    const { s } = spec('trap "echo got TERM; exit 1" TERM; echo up; while true; do sleep 0.2; done');
    const a = await place.start(s);
    await a.started;
    await waitFor('running', () => existsSync(join(c.sharedDir, 'attempts', s.name, 'started')));
    await a.cancel('cancelled');
    const end = await a.ended;
    assert.equal(end.reason, 'cancelled');
    assert.doesNotMatch(squeueIds(), new RegExp(`${s.name} (RUNNING|PENDING)`));
  });

  test('a request no node can satisfy is refused with what the partition has', async () => {
    await assert.rejects(place.start(spec('true', { resources: { cpu: 1, memoryBytes: 64 * 1024 ** 3 } }).s), /no node offers memory 65536Mi \(largest: 2048Mi\)/);
    await assert.rejects(place.start(spec('true', { resources: { cpu: 16 } }).s), /no node offers cpu 16 \(largest: 2\)/);
    await assert.rejects(place.start(spec('true', { resources: { cpu: 1, gpu: 3 } }).s), /no node offers gpu 3 \(largest: 2\)/);
  });

  test('a restarted worker (a new place on the same shared dir) finds the job by name and adopts it', async () => {
    const { s, lines } = spec('echo one; while [ ! -f go ]; do sleep 0.2; done; echo two; exit 4');
    const first = new SlurmPlace({ sharedDir: c.sharedDir, partition: c.partition, env: env(), pollMs: 300 });
    await first.start(s);
    await waitFor('first line', () => lines.length === 1);
    // The first worker goes away without ending its job.
    await first.close();
    const other = new SlurmPlace({ sharedDir: c.sharedDir, partition: c.partition, env: env(), pollMs: 300 });
    try {
      assert.ok((await other.live()).includes(s.name));
      const later: string[] = [];
      const adopted = await other.adopt(s.name, { onLines: (_s, ls) => later.push(...ls) });
      assert.ok(adopted);
      execFileSync('touch', [join(s.cwd, 'go')]);
      const end = await adopted.ended;
      assert.deepEqual({ reason: end.reason, exitCode: end.exitCode }, { reason: 'exit_code', exitCode: 4 });
      assert.deepEqual(later, ['two'], 'goes on from where the first worker was');
      assert.equal(await other.adopt(s.name, { onLines: () => {} }), null);
    } finally {
      await other.close();
    }
  });

  test('end(name) cancels a live job; a later attempt ends earlier attempts of the same run first', async () => {
    const first = spec('sleep 300', {}, 'rend', 1);
    await (await place.start(first.s)).started;
    const second = spec('echo second', {}, 'rend', 2);
    const b = await place.start(second.s);
    assert.doesNotMatch(squeueIds(), /kairos-rend-1 (RUNNING|PENDING)/);
    assert.equal((await b.ended).reason, 'exit_code');
    const third = spec('sleep 300', {}, 'rend2', 1);
    await (await place.start(third.s)).started;
    await place.end(third.s.name);
    assert.doesNotMatch(squeueIds(), /kairos-rend2-1 (RUNNING|PENDING)/);
    assert.deepEqual(await place.live(), []);
  });

  test('a node failing under an attempt ends it node_failure; the retry runs on the other node and the first attempt\'s processes are gone', { timeout: 300_000 }, async () => {
    const record = join(c.sharedDir, 'records');
    mkdirSync(record, { recursive: true });
    const script = `echo "$SLURMD_NODENAME $$" > ${record}/$KAIROS_ATTEMPT; echo running; while [ "$KAIROS_ATTEMPT" = 1 ]; do sleep 1; done; echo done`;
    const first = spec(script, { env: { KAIROS_ATTEMPT: '1' }, resources: { cpu: 1 } }, 'rnode', 1);
    const a = await place.start(first.s);
    await waitFor('record 1', () => existsSync(join(record, '1')));
    const [node1, pid1] = readFileSync(join(record, '1'), 'utf8').trim().split(' ');
    assert.ok(node1 && pid1);
    assert.ok(alive(Number(pid1)));
    await c.killSlurmd(node1);
    const end = await a.ended; // after SlurmdTimeout
    assert.equal(end.reason, 'node_failure', JSON.stringify(end));
    const second = spec(script, { env: { KAIROS_ATTEMPT: '2' } }, 'rnode', 2);
    const b = await place.start(second.s);
    assert.equal((await b.ended).reason, 'exit_code');
    const [node2] = readFileSync(join(record, '2'), 'utf8').trim().split(' ');
    assert.notEqual(node2, node1);
    // The failed node comes back: Slurm kills the first attempt's processes there as orphans.
    c.restartSlurmd(node1);
    await waitFor('the first attempt\'s processes gone', () => !alive(Number(pid1)), 120_000, 250);
  });
});

describe('slurm place: Slurm missing', { skip: missing === null }, () => {
  test('skipped here (not CI)', { skip: missing ?? true }, () => {});
});
