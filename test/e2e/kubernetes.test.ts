/**
 * `kairos worker --place kubernetes` as a subprocess, against a FAKE Kubernetes API server
 * (test/places/fake-kube-api.ts; no real one can run here): bad options exit 2, a run becomes a Job whose pod
 * runs the deployed bundle from the shared directory, a worker restarted mid-run adopts its Job and goes on
 * with the log, and an orphan Job of the worker (no lease holds it) is deleted when the worker starts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { KubernetesPlace } from '../../src/worker/places/kubernetes.js';
import { placeAttemptName } from '../../src/worker/places/place.js';
import { cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';
import { startFakeKubeApi, type FakeKubeApi } from '../places/fake-kube-api.js';

describe('kubernetes workers (fake API server)', () => {
  const dir = tempDir('kairos-e2e-kube-');
  const shared = join(dir.path, 'shared');
  const marks = join(shared, 'marks');
  const kubeconfig = join(dir.path, 'kubeconfig');
  let api: FakeKubeApi;
  let port = 0;
  let client: KairosClient;
  const procs: ReturnType<typeof spawnCli>[] = [];
  const server = () => `http://127.0.0.1:${port}`;
  const workerArgs = ['--place', 'kubernetes', '--kubeconfig', kubeconfig, '--namespace', 'kairos-test', '--shared-dir', shared, '--volume-claim', 'kairos-shared', '--image', 'registry.example/team/runner:1'];
  const startWorker = () => {
    const w = spawnCli(['worker', '--server', server(), '--id', 'k8s-e2e', '--grace', '1', ...workerArgs]);
    procs.push(w);
    return w;
  };
  const logs = async (id: string) => (await client.logs(id)).lines.filter((l) => l.stream !== 'system').map((l) => l.line);

  before(async () => {
    api = await startFakeKubeApi();
    mkdirSync(marks, { recursive: true });
    writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster: {server: "${api.url}", insecure-skip-tls-verify: true}
users:
- name: fake
  user: {token: fake-token}
contexts:
- name: fake
  context: {cluster: fake, user: fake, namespace: elsewhere}
current-context: fake
`);
    writeProject(dir.path, {
      'project/kairos.yaml': `project: kube
jobs:
  hello:
    run: echo "hello from $KAIROS_JOB in $(basename $(pwd))"; cat data.txt
    env: { GREETING: hi }
    resources: { cpu: 1, memory: 256Mi }
  adopt:
    run: echo one; while [ ! -f ${marks}/go-$KAIROS_RUN_ID ]; do sleep 0.1; done; echo two
`,
      'project/data.txt': 'from the bundle\n',
    });
    port = await freePort();
    client = new KairosClient(server());
    procs.push(spawnCli(['up', join(dir.path, 'project'), '--port', String(port), '--data', join(dir.path, 'server-data'), '--concurrency', '0', '--lease', '20s']));
    await waitFor('the server', () => client.health(), 20_000);
  });

  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await exited(p.child);
      }
    }
    await api?.close();
    dir.cleanup();
  });

  test('bad options exit 2 with what is wrong', async () => {
    const missing = await cli(['worker', '--server', server(), '--place', 'kubernetes']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--place kubernetes needs --shared-dir DIR/);
    const other = await cli(['worker', '--server', server(), ...workerArgs, '--partition', 'gpu']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /--partition is an option of --place slurm/);
    const both = await cli(['worker', '--server', server(), ...workerArgs, '--in-cluster']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--kubeconfig FILE or --in-cluster, not both/);
  });

  test('an orphan Job of the worker is deleted when it starts; a run is a Job that runs the bundle and is gone after', async () => {
    // What an earlier incarnation of this worker left running, that no lease holds.
    const orphanName = placeAttemptName('orphan0000000000000000000', 1);
    const work = join(shared, 'orphan');
    mkdirSync(work, { recursive: true });
    const earlier = new KubernetesPlace({ kubeconfig, namespace: 'kairos-test', sharedDir: shared, volumeClaim: 'kairos-shared', image: 'img', workerId: 'k8s-e2e', dataDir: join(shared, 'old'), slots: 1 });
    await earlier.start({ name: orphanName, command: { kind: 'shell', script: 'sleep 60' }, cwd: work, env: {}, resources: {}, timeLimitMs: null, graceMs: 1000, paths: { readOnly: [], writable: [], writableFiles: [] }, onLines: () => {} });
    await earlier.close();
    const w = startWorker();
    await waitFor('the worker', () => w.output().includes('worker k8s-e2e '), 30_000);
    assert.match(w.output(), /place kubernetes: 4 cpu, memory 8Gi, 2 gpu/);
    await waitFor('the orphan deleted', () => !api.jobs.has(orphanName), 30_000);
    assert.ok(api.deletions.some((d) => d.kind === 'Job' && d.name === orphanName && d.propagationPolicy === 'Foreground'));
    const run = await client.createRun('hello', {});
    const done = await client.getRun(run.id, 60);
    assert.equal(done.state, 'succeeded', `${done.reason ?? ''} ${w.output().slice(-2000)}`);
    const lines = await logs(run.id);
    assert.ok(lines.some((l) => /^hello from hello in /.test(l)), lines.join(' | '));
    assert.ok(lines.includes('from the bundle'), lines.join(' | '));
    const job = api.createdJobs.find((j) => j.metadata.name === placeAttemptName(run.id, 1));
    assert.ok(job);
    assert.equal(job.metadata.namespace, 'kairos-test');
    assert.equal(job.metadata.labels['kairos.dev/project'], 'kube');
    assert.equal(job.metadata.labels['kairos.dev/job'], 'hello');
    assert.deepEqual(job.spec.template.spec.containers[0].resources.limits, { cpu: '1000m', memory: String(256 * 1024 * 1024) });
    assert.ok(!JSON.stringify(job).includes('GREETING'), 'variables only in the Secret');
    assert.equal(api.jobs.has(job.metadata.name), false);
    assert.equal(api.secrets.has(`kairos-test/${job.metadata.name}`), false);
  });

  test('a worker killed mid-run adopts its Job when it starts again; the log goes on without repeats', async () => {
    const run = await client.createRun('adopt', {});
    await waitFor('one', async () => (await logs(run.id)).includes('one'), 30_000);
    const first = procs.find((p) => p.child.exitCode === null && p.output().includes('worker k8s-e2e '));
    assert.ok(first);
    first.child.kill('SIGKILL');
    await exited(first.child);
    const w = startWorker();
    await waitFor('the worker again', () => w.output().includes('worker k8s-e2e '), 30_000);
    writeFileSync(join(marks, `go-${run.id}`), '');
    const done = await client.getRun(run.id, 60);
    assert.equal(done.state, 'succeeded', `${done.reason ?? ''} ${w.output().slice(-2000)}`);
    assert.deepEqual(await logs(run.id), ['one', 'two']);
    assert.equal(done.attempt, 1);
  });
});
