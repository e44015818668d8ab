/**
 * The Kubernetes place (src/worker/places/kubernetes.ts) against a FAKE API server (./fake-kube-api.ts): no real
 * API server can run on these machines. The fake answers with the real API's payloads and plays the Job
 * controller, the scheduler and a kubelet whose containers are local processes. The same conformance suite
 * runs against a real cluster when KUBECONFIG is set (docs/kubernetes.md, "Testing against a cluster").
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubernetesPlace, type KubernetesPlaceOptions } from '../../src/worker/places/kubernetes.js';
import { placeAttemptName, type PlaceAttemptSpec, type PlaceEnd } from '../../src/worker/places/place.js';
import { tempDir, waitFor } from '../helpers.js';
import { placeConformance } from './conformance.js';
import { startFakeKubeApi, type FakeKubeApi } from './fake-kube-api.js';

const dir = tempDir('kairos-place-kube-');
const api: FakeKubeApi = await startFakeKubeApi();
after(async () => {
  await api.close();
  dir.cleanup();
});

function fakePlace(over: Partial<KubernetesPlaceOptions> = {}): KubernetesPlace {
  return new KubernetesPlace({
    kubeConfig: api.kubeConfig(),
    sharedDir: dir.path,
    volumeClaim: 'kairos-shared',
    workerId: 'kube-worker:0a1b2c3d',
    dataDir: join(dir.path, 'worker'),
    slots: 4,
    image: 'registry.example/kairos/runner:1',
    checkMs: 200,
    ...over,
  });
}

placeConformance('kubernetes (fake API server)', () => Promise.resolve(fakePlace()), { dir: () => join(dir.path, 'conformance'), limitsMemory: true, timeLimitMs: 1000, mergesStreams: true });

// A real cluster: KUBECONFIG, and a directory this machine and the cluster's pods share (docs/kubernetes.md).
const real = process.env.KUBECONFIG && process.env.KAIROS_TEST_KUBE_SHARED_DIR ? process.env : null;
if (real) {
  placeConformance(
    'kubernetes (real cluster from KUBECONFIG)',
    () =>
      Promise.resolve(
        new KubernetesPlace({
          kubeconfig: real.KUBECONFIG ?? null,
          namespace: real.KAIROS_TEST_KUBE_NAMESPACE ?? null,
          sharedDir: real.KAIROS_TEST_KUBE_SHARED_DIR ?? '',
          volumeClaim: real.KAIROS_TEST_KUBE_CLAIM ?? null,
          image: real.KAIROS_TEST_KUBE_IMAGE ?? 'python:3.12-slim',
          workerId: `conformance:${process.pid}`,
          dataDir: join(real.KAIROS_TEST_KUBE_SHARED_DIR ?? '', 'worker'),
          slots: 4,
        }),
      ),
    { dir: () => join(real.KAIROS_TEST_KUBE_SHARED_DIR ?? '', 'conformance'), limitsMemory: true, timeLimitMs: 5000, mergesStreams: true, endWithinMs: 300_000 },
  );
} else {
  describe('kubernetes place: a real cluster', () => {
    test('skipped: set KUBECONFIG and KAIROS_TEST_KUBE_SHARED_DIR to run the conformance suite against a cluster', { skip: 'no KUBECONFIG' }, () => {});
  });
}

describe('kubernetes place (fake API server)', () => {
  let place: KubernetesPlace;
  let n = 0;
  before(() => {
    place = fakePlace();
  });
  after(async () => {
    for (const name of await place.live()) await place.end(name);
    await place.close();
  });

  /** A spec with its lines and notes collected. */
  function spec(script: string, over: Partial<PlaceAttemptSpec> = {}, runId = `k${Date.now().toString(36)}${(n++).toString(36)}`, attempt = 1) {
    const lines: string[] = [];
    const notes: string[] = [];
    const work = join(dir.path, 'work', runId);
    mkdirSync(work, { recursive: true });
    const s: PlaceAttemptSpec = {
      name: placeAttemptName(runId, attempt),
      command: { kind: 'shell', script },
      cwd: work,
      env: { KAIROS_PROJECT: 'team', KAIROS_JOB: 'train', KAIROS_RUN_ID: runId, KAIROS_ATTEMPT: String(attempt) },
      resources: {},
      timeLimitMs: null,
      graceMs: 1000,
      paths: { readOnly: [], writable: [join(work, 'artifacts')], writableFiles: [] },
      onLines: (_stream, ls) => lines.push(...ls),
      note: (l) => notes.push(l),
      ...over,
    };
    return { s, lines, notes, work };
  }
  const podName = (job: string): Promise<string> => waitFor(`the pod of ${job}`, () => api.podOf(job)?.metadata.name as string | undefined);
  const running = (job: string): Promise<unknown> => waitFor(`${job} running`, () => api.podOf(job)?.status.phase === 'Running' || null);
  const foreground = (job: string) => api.deletions.some((d) => d.kind === 'Job' && d.name === job && d.propagationPolicy === 'Foreground');

  test('the Job and Secret: labels, no retries, resources, deadline, image; every variable in the Secret and none in the pod spec', async () => {
    const secret = 'hunter2-s3cr3t "quoted" $HOME';
    const { s, lines } = spec('echo "token=$API_TOKEN"; echo "gpus-asked"', {
      env: { KAIROS_PROJECT: 'team', KAIROS_JOB: 'train', KAIROS_RUN_ID: 'r1', KAIROS_ATTEMPT: '1', API_TOKEN: secret },
      resources: { cpu: 1.5, memoryBytes: 512 * 1024 * 1024, gpu: 1 },
      timeLimitMs: 10 * 60_000,
      graceMs: 5000,
      image: { ref: 'registry.example/team/env@sha256:abc', digest: 'sha256:abc' },
    });
    const a = await place.start(s);
    const end = await a.ended;
    assert.deepEqual([end.reason, end.exitCode], ['exit_code', 0]);
    assert.deepEqual(lines, [`token=${secret}`, 'gpus-asked']);
    const job = api.createdJobs.find((j) => j.metadata.name === s.name);
    assert.ok(job);
    assert.deepEqual(job.metadata.labels, {
      'app.kubernetes.io/managed-by': 'kairos',
      'kairos.dev/worker': job.metadata.labels['kairos.dev/worker'],
      'kairos.dev/attempt': s.name,
      'kairos.dev/project': 'team',
      'kairos.dev/job': 'train',
      'kairos.dev/run': 'r1',
      'kairos.dev/attempt-number': '1',
    });
    assert.match(job.metadata.labels['kairos.dev/worker'], /^[0-9a-f]{16}$/);
    assert.equal(job.spec.backoffLimit, 0);
    assert.equal(job.spec.activeDeadlineSeconds, 605);
    const pod = job.spec.template.spec;
    assert.equal(pod.restartPolicy, 'Never');
    assert.equal(pod.terminationGracePeriodSeconds, 5);
    assert.deepEqual(job.spec.template.metadata.labels, job.metadata.labels);
    const c = pod.containers[0];
    assert.equal(c.image, 'registry.example/team/env@sha256:abc');
    assert.deepEqual(c.command, ['/bin/sh', '-c', s.command.kind === 'shell' ? s.command.script : '']);
    assert.equal(c.workingDir, s.cwd);
    assert.deepEqual(c.resources, { requests: { cpu: '1500m', memory: String(512 * 1024 * 1024), 'nvidia.com/gpu': '1' }, limits: { cpu: '1500m', memory: String(512 * 1024 * 1024), 'nvidia.com/gpu': '1' } });
    assert.deepEqual(c.envFrom, [{ secretRef: { name: s.name } }]);
    assert.equal(c.env, undefined);
    assert.deepEqual(c.volumeMounts, [{ name: 'kairos-shared', mountPath: dir.path }]);
    assert.deepEqual(pod.volumes, [{ name: 'kairos-shared', persistentVolumeClaim: { claimName: 'kairos-shared' } }]);
    // No literal value of any variable in the Job, neither plain nor base64.
    const text = JSON.stringify(job);
    assert.ok(!text.includes('hunter2'), 'the secret is not in the Job');
    assert.ok(!text.includes(Buffer.from(secret).toString('base64')), 'nor its base64');
    const sec = api.createdSecrets.find((x) => x.metadata.name === s.name);
    assert.equal(Buffer.from(sec.data.API_TOKEN, 'base64').toString(), secret);
    assert.equal(sec.type, 'Opaque');
    // Owned by the Job, and gone with the attempt, as is the Job.
    assert.equal(api.secrets.has(`kairos-test/${s.name}`), false);
    assert.equal(api.jobs.has(s.name), false);
  });

  test('the Secret is owned by its Job while the attempt runs', async () => {
    const { s } = spec('sleep 30');
    const a = await place.start(s);
    await running(s.name);
    const sec = api.secrets.get(`kairos-test/${s.name}`);
    assert.deepEqual(sec.metadata.ownerReferences, [{ apiVersion: 'batch/v1', kind: 'Job', name: s.name, uid: api.jobs.get(s.name).metadata.uid }]);
    await a.cancel('cancelled');
    assert.equal((await a.ended).reason, 'cancelled');
  });

  test('without a container environment and without --image the attempt is refused, saying what to do', async () => {
    const bare = fakePlace({ image: null });
    try {
      await assert.rejects(bare.start(spec('true').s), /no container environment .*--image REF/);
    } finally {
      await bare.close();
    }
  });

  test('a working directory outside the shared directory is refused (the pod could not see it)', async () => {
    await assert.rejects(place.start(spec('true', { cwd: '/tmp' }).s), /not under the shared directory/);
  });

  test('the pod watch, cut and answered 410 Gone, lists again and misses nothing', async () => {
    const gate = join(dir.path, `gate-${n}`);
    const { s, lines } = spec(`echo before; while [ ! -e ${gate} ]; do sleep 0.05; done; echo after; exit 3`);
    const a = await place.start(s);
    await waitFor('before', () => lines.includes('before'));
    // The history is compacted: the open watch gets an ERROR event with a 410 Status and ends.
    api.compact();
    writeFileSync(gate, '');
    const end = await a.ended;
    assert.deepEqual([end.reason, end.exitCode], ['exit_code', 3]);
    assert.deepEqual(lines, ['before', 'after']);
    const calls = api.calls.filter((c) => c.startsWith('GET /api/v1/namespaces/kairos-test/pods'));
    assert.ok(calls.filter((c) => !c.endsWith('?watch')).length >= 2, `listed again: ${calls.join(', ')}`);
    assert.ok(calls.filter((c) => c.endsWith('?watch')).length >= 2, 'watched again');
  });

  test('the log follow, cut three times, reconnects from sinceTime with no gap and no duplicate', async () => {
    // Each of the next followed responses is cut after 40 lines (bursts share millisecond timestamps).
    api.logCuts.push(40, 40, 40);
    const { s, lines } = spec('i=1; while [ $i -le 300 ]; do echo "line $i"; if [ $((i % 75)) = 0 ]; then sleep 0.3; fi; i=$((i+1)); done');
    const a = await place.start(s);
    const end = await a.ended;
    assert.equal(end.exitCode, 0);
    assert.deepEqual(lines, Array.from({ length: 300 }, (_, i) => `line ${i + 1}`));
    assert.equal(api.logCuts.length, 0, 'every cut happened');
  });

  const reasons: [string, string, Partial<PlaceAttemptSpec>, (job: string) => Promise<void>, (e: PlaceEnd) => void][] = [
    ['OOMKilled is oom', 'echo up; sleep 30', { resources: { memoryBytes: 64 * 1024 * 1024 } }, async (job) => {
      await running(job);
      api.oomKill(await podName(job));
    }, (e) => {
      assert.deepEqual([e.reason, e.exitCode], ['oom', 137]);
      assert.match(e.detail ?? '', /OOMKilled.*memory limit 67108864/);
    }],
    ['DeadlineExceeded (the Job\'s activeDeadlineSeconds) is time_limit', 'sleep 30', {}, async (job) => {
      await running(job);
      api.expireDeadline(job);
    }, (e) => {
      assert.equal(e.reason, 'time_limit');
      assert.match(e.detail ?? '', /DeadlineExceeded/);
    }],
    ['an eviction is preempted, with the kubelet\'s message', 'sleep 30', {}, async (job) => {
      await running(job);
      api.evict(await podName(job), 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi.');
    }, (e) => {
      assert.equal(e.reason, 'preempted');
      assert.match(e.detail ?? '', /evicted on node fake-node-1: The node was low on resource: memory/);
    }],
    ['a lost node is node_failure', 'sleep 30', {}, async (job) => {
      await running(job);
      api.nodeLost(await podName(job));
    }, (e) => {
      assert.equal(e.reason, 'node_failure');
      assert.match(e.detail ?? '', /DeletionByTaintManager/);
    }],
  ];
  for (const [title, script, over, act, check] of reasons) {
    test(title, async () => {
      const { s } = spec(script, over);
      const a = await place.start(s);
      await act(s.name);
      check(await a.ended);
      assert.equal(api.jobs.has(s.name), false, 'the Job is deleted');
      assert.equal(api.secrets.has(`kairos-test/${s.name}`), false, 'the Secret is deleted');
    });
  }

  test('an image that cannot be pulled never starts: lost, saying ErrImagePull / ImagePullBackOff, after the bound', async () => {
    const quick = fakePlace({ imagePullTimeoutMs: 500 });
    try {
      const { s, notes } = spec('true', { image: { ref: 'registry.example/team/missing:1' } });
      const a = await quick.start(s);
      await assert.rejects(a.started, /cannot be pulled/);
      const end = await a.ended;
      assert.equal(end.reason, 'lost');
      assert.match(end.detail ?? '', /image registry\.example\/team\/missing:1 cannot be pulled \((ErrImagePull|ImagePullBackOff)/);
      assert.ok(notes.some((l) => /ErrImagePull: failed to pull/.test(l)), notes.join('\n'));
      assert.ok(foreground(s.name));
    } finally {
      await quick.close();
    }
  });

  test('a pod no node can take is Unschedulable: said at once, lost after the bound', async () => {
    const quick = fakePlace({ pendingTimeoutMs: 500 });
    try {
      const { s, notes } = spec('true', { resources: { memoryBytes: 64 * 1024 ** 3 } });
      const a = await quick.start(s);
      const end = await a.ended;
      assert.equal(end.reason, 'lost');
      assert.match(end.detail ?? '', /unschedulable: 0\/2 nodes are available: 2 Insufficient memory/);
      assert.ok(notes.some((l) => l.startsWith('kubernetes: unschedulable')), notes.join('\n'));
      await assert.rejects(a.started);
    } finally {
      await quick.close();
    }
  });

  test('cancel deletes the Job with propagationPolicy Foreground: TERM, then the pod and Job are gone', async () => {
    const { s, lines } = spec('trap "echo got TERM; exit 143" TERM; echo up; while true; do sleep 0.1; done');
    const a = await place.start(s);
    await waitFor('up', () => lines.includes('up'));
    await a.cancel('cancelled');
    const end = await a.ended;
    assert.equal(end.reason, 'cancelled');
    assert.ok(foreground(s.name), JSON.stringify(api.deletions));
    assert.ok(lines.includes('got TERM'), lines.join('\n'));
    assert.equal(api.podOf(s.name), undefined);
    assert.equal(api.jobs.has(s.name), false);
  });

  test('the time limit deletes the Job (Foreground) and ends time_limit', async () => {
    const { s, lines } = spec('echo begun; sleep 30', { timeLimitMs: 800 });
    const a = await place.start(s);
    const end = await a.ended;
    assert.equal(end.reason, 'time_limit');
    assert.ok(foreground(s.name));
    assert.deepEqual(lines, ['begun']);
  });

  test('409 AlreadyExists on create is our own earlier submission: followed, not made twice', async () => {
    const { s } = spec('echo once; sleep 0.5; echo done');
    // A worker made the Secret and the Job, then died before it could follow them.
    const first = fakePlace();
    await first.start(s);
    await first.close();
    const lines: string[] = [];
    const notes: string[] = [];
    const again = fakePlace();
    try {
      const a = await again.start({ ...s, onLines: (_st, ls) => lines.push(...ls), note: (l) => notes.push(l) });
      const end = await a.ended;
      assert.deepEqual([end.reason, end.exitCode], ['exit_code', 0]);
      assert.deepEqual(lines, ['once', 'done']);
      assert.ok(notes.some((l) => /already submitted: following it/.test(l)), notes.join('\n'));
      assert.equal(api.createdJobs.filter((j) => j.metadata.name === s.name).length, 1);
    } finally {
      await again.close();
    }
    // Another worker's Job of the same name is not ours to follow.
    const { s: s2 } = spec('sleep 5');
    const other = fakePlace({ workerId: 'someone-else:1' });
    const mine = await other.start(s2);
    try {
      await assert.rejects(place.start(s2), /not this worker's/);
    } finally {
      await mine.cancel('cancelled', 0);
      await mine.ended;
      await other.close();
    }
  });

  test('after a worker restart: live() lists its Jobs by label, adopt() goes on with the log where it was, end() deletes an orphan', async () => {
    const gate = join(dir.path, `gate-restart-${n}`);
    const kept = spec(`echo one; while [ ! -e ${gate} ]; do sleep 0.05; done; echo two; exit 4`);
    const orphan = spec('echo orphan; sleep 60');
    const first = fakePlace({ workerId: 'restarting:1' });
    await first.start(kept.s);
    await first.start(orphan.s);
    await waitFor('first lines', () => kept.lines.includes('one') && orphan.lines.includes('orphan'));
    await first.close();
    // Another worker's Jobs are not in this worker's live().
    const stranger = fakePlace({ workerId: 'stranger:1' });
    const theirs = spec('sleep 60');
    const t = await stranger.start(theirs.s);
    const second = fakePlace({ workerId: 'restarting:1' });
    try {
      assert.deepEqual(await second.live(), [kept.s.name, orphan.s.name].sort());
      const later: string[] = [];
      const adopted = await second.adopt(kept.s.name, { onLines: (_st, ls) => later.push(...ls) });
      assert.ok(adopted);
      writeFileSync(gate, '');
      const end = await adopted.ended;
      assert.deepEqual([end.reason, end.exitCode], ['exit_code', 4]);
      assert.deepEqual(later, ['two'], 'goes on from where the first worker was');
      await second.end(orphan.s.name);
      assert.ok(foreground(orphan.s.name));
      assert.equal(api.jobs.has(orphan.s.name), false);
      assert.equal(api.podOf(orphan.s.name), undefined);
      assert.equal(api.secrets.has(`kairos-test/${orphan.s.name}`), false);
      assert.deepEqual(await second.live(), []);
      assert.equal(await second.adopt(orphan.s.name, { onLines: () => {} }), null);
      assert.ok(api.jobs.has(theirs.s.name), 'the other worker\'s Job is untouched');
    } finally {
      await t.cancel('cancelled', 0);
      await t.ended;
      await stranger.close();
      await second.close();
    }
  });

  test('offer() is the largest ready node\'s allocatable, or what the worker was told', async () => {
    const o = await place.offer();
    assert.deepEqual({ cpu: o.cpu, memoryBytes: o.memoryBytes, gpu: o.gpu, nodes: o.nodes, slots: o.slots, maxTimeMs: o.maxTimeMs }, { cpu: 4, memoryBytes: 8 * 1024 ** 3, gpu: 2, nodes: 2, slots: 4, maxTimeMs: null });
    const told = fakePlace({ cpu: 16, memoryBytes: 64 * 1024 ** 3, gpu: 0 });
    try {
      const before = api.calls.filter((c) => c === 'GET /api/v1/nodes').length;
      const t = await told.offer();
      assert.deepEqual([t.cpu, t.memoryBytes, t.gpu], [16, 64 * 1024 ** 3, 0]);
      assert.equal(api.calls.filter((c) => c === 'GET /api/v1/nodes').length, before, 'no node listing needed');
    } finally {
      await told.close();
    }
    assert.equal(existsSync(join(dir.path, 'worker', 'kubernetes')), true);
  });
});
