/**
 * Placement with local workers of different sizes (docs/places.md): `kairos up --concurrency 0` as the control
 * plane, `kairos worker` processes that say what they offer. GPUs are simulated by a FAKE `nvidia-smi` (a shell
 * script this test writes, put first on the worker's PATH) that lists two devices.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

const GiB = 1024 ** 3;

describe('placement', () => {
  const dir = tempDir();
  let port = 0;
  let client: KairosClient;
  const procs: ReturnType<typeof spawnCli>[] = [];
  const server = () => `http://127.0.0.1:${port}`;
  const fakeBin = join(dir.path, 'fake-gpu-bin');

  before(async () => {
    writeProject(dir.path, {
      'project/kairos.yaml': `project: placement
pools:
  gpu: {}
  nobody: {}
jobs:
  train:
    pool: gpu
    resources: {gpu: 1}
    run: "echo dev=$CUDA_VISIBLE_DEVICES; sleep 2"
  huge:
    resources: {memory: 64Gi}
    start_timeout: 15s
    run: "echo never runs"
  orphan:
    pool: nobody
    run: "echo never runs"
  small:
    run: "echo small ran"
`,
    });
    // The FAKE nvidia-smi: answers the one query a worker asks with two 16 GiB devices.
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, 'nvidia-smi'), '#!/bin/sh\n# fake nvidia-smi for the placement test\nprintf "0, 16384 MiB\\n1, 16384 MiB\\n"\n');
    chmodSync(join(fakeBin, 'nvidia-smi'), 0o755);
    port = await freePort();
    client = new KairosClient(server());
    procs.push(spawnCli(['up', join(dir.path, 'project'), '--port', String(port), '--data', join(dir.path, 'server-data'), '--concurrency', '0', '--lease', '2s']));
    await waitFor('the server', () => client.health(), 20_000);
    // A 2-GPU worker that would run three attempts at once (capacity 3) if placement let it.
    procs.push(
      spawnCli(['worker', '--server', server(), '--id', 'gpu-box', '--pool', 'gpu', '--data', join(dir.path, 'cache-gpu'), '--concurrency', '3', '--grace', '1'], {
        env: { PATH: `${fakeBin}:${process.env.PATH ?? '/usr/bin:/bin'}` },
      }),
    );
    // A small worker of the default pool: 1 GiB.
    procs.push(spawnCli(['worker', '--server', server(), '--id', 'small-box', '--pool', 'default', '--memory', '1Gi', '--data', join(dir.path, 'cache-small'), '--grace', '1']));
    await waitFor('both workers to register', () => procs.slice(1).every((p) => / worker \S+ for pool/.test(p.output())) || null, 60_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${procs.map((p) => p.output()).join('\n---\n')}`);
    });
  });

  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await exited(p.child);
      }
    }
    dir.cleanup();
  });

  test('a 2-GPU worker never runs three 1-GPU attempts at once, and each sees only its own device', { timeout: 600_000 }, async () => {
    const runs = await Promise.all([1, 2, 3, 4].map(() => client.createRun('train', {})));
    const done = await Promise.all(runs.map((r) => client.getRun(r.id, 240)));
    for (const d of done) assert.equal(d.state, 'succeeded', d.reason ?? '');
    const spans: { start: number; end: number; dev: string }[] = [];
    for (const r of runs) {
      const dev = (await client.logs(r.id)).lines.map((l) => l.line).find((l) => l.startsWith('dev=')) ?? '';
      assert.match(dev, /^dev=[01]$/, `each attempt sees exactly one of the two devices: ${dev}`);
      const a = (await client.attempts(r.id)).attempts[0] as { claimed_at: string; finished_at: string };
      spans.push({ start: Date.parse(a.claimed_at), end: Date.parse(a.finished_at), dev });
    }
    // At no moment were three claimed and not yet finished; two that overlapped had different devices.
    for (const s of spans) {
      const overlapping = spans.filter((o) => o.start <= s.start && o.end > s.start);
      assert.ok(overlapping.length <= 2, `three attempts at once: ${JSON.stringify(spans)}`);
      for (const o of overlapping) if (o !== s) assert.notEqual(o.dev, s.dev, `two attempts at once on one device: ${JSON.stringify(spans)}`);
    }
  });

  test('a run asking more memory than any worker offers says why it waits, and ends failed at its start_timeout', { timeout: 600_000 }, async () => {
    const run = await client.createRun('huge', {});
    assert.match(run.waiting_reason ?? '', /^no worker in pool default offers memory 64Gi \(largest: 1Gi on local@/);
    const listed = await cli(['runs', '--server', server()]);
    assert.match(listed.stdout, new RegExp(`${run.id} waits: no worker in pool default offers memory 64Gi`));
    const done = await client.getRun(run.id, 240);
    assert.equal(done.state, 'failed');
    assert.equal(done.reason_code, 'start_timeout');
    assert.match(done.reason ?? '', /^not started within 15s \(start_timeout\): no worker in pool default offers memory 64Gi/);
  });

  test('kairos check and kairos deploy --plan warn about a job no worker of its pool can run', { timeout: 600_000 }, async () => {
    const check = await cli(['check', join(dir.path, 'project'), '--server', server(), '--skip', 'dependencies,code']);
    assert.match(check.stdout, /job huge: no worker in pool default offers memory 64Gi \(largest: 1Gi on local@/, check.stdout + check.stderr);
    const plan = await cli(['deploy', join(dir.path, 'project'), '--plan', '--server', server()]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /! job huge: no worker in pool default offers memory 64Gi/);
    assert.match(plan.stdout, /! job orphan: no live worker in pool nobody/);
    assert.doesNotMatch(plan.stdout, /job train:/);
  });

  test('a run of a pool without a live worker says so', async () => {
    const run = await client.createRun('orphan', {});
    assert.equal(run.waiting_reason, 'no live worker in pool nobody');
    await client.cancelRun(run.id);
  });

  test('kairos run --memory/--pool overrides the job for that run, recorded and repeated by rerun', { timeout: 600_000 }, async () => {
    const r = await cli(['run', 'small', '--server', server(), '--memory', '64Gi', '--cpu', '0.5', '--detach', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const run = JSON.parse(r.stdout) as { id: string; resources: unknown; waiting_reason: string | null };
    assert.deepEqual(run.resources, { cpu: 0.5, memory_bytes: 64 * GiB });
    assert.match(run.waiting_reason ?? '', /offers memory 64Gi/);
    await client.cancelRun(run.id);
    const again = await client.rerun(run.id);
    assert.deepEqual(again.resources, { cpu: 0.5, memory_bytes: 64 * GiB });
    await client.cancelRun(again.id);
    // A pool for this run alone, and a size that fits: it runs on the small worker.
    const fits = await cli(['run', 'small', '--server', server(), '--memory', '512Mi', '--pool', 'default']);
    assert.equal(fits.code, 0, fits.stderr);
    assert.match(fits.stdout, /small ran/);
    const bad = await cli(['run', 'small', '--server', server(), '--memory', 'lots']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--memory must be a size/);
  });
});
