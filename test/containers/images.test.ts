/**
 * Container environments with real podman (runc, private stores) and a real registry (Debian's docker-registry
 * on loopback): a Containerfile builds offline from the test's own base image, a second prepare is a cache hit,
 * the built image is pushed by one store and pulled and run by a second store (standing for a second machine)
 * with identical output; limits are enforced and an out-of-memory kill is reported as `oom`; a cancel kills the
 * container; nothing (container, mount, intermediate image) is left behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerEnvironment } from '../../src/model/job.js';
import { workerBaseEnv } from '../../src/model/run-env.js';
import { ImageCache, parseRegistry, repositoryOf, type PreparedImage, type Registry } from '../../src/worker/envs/images.js';
import { createLauncher } from '../../src/worker/places/launchers.js';
import { LocalPlace } from '../../src/worker/places/local-place.js';
import { placeAttemptName, type PlaceAttemptSpec, type PlaceEnd } from '../../src/worker/places/place.js';
import { tempDir, waitFor, writeProject } from '../helpers.js';
import { importBase, podmanMissing, podmanStore, removeBusyboxTar, startRegistry, type PodmanStore, type RegistryServer } from './podman-store.js';

const missing = podmanMissing();

describe('container environments (podman, registry)', { skip: missing ?? false }, () => {
  const dir = tempDir('kairos-images-');
  const project = join(dir.path, 'project');
  let a: PodmanStore;
  let b: PodmanStore;
  let registry: RegistryServer;
  let reg: Registry;
  let seq = 0;
  const env: Extract<ContainerEnvironment, { kind: 'containerfile' }> = { kind: 'containerfile', name: 'box', containerfile: 'env/Containerfile', context: 'env', network: 'none' };

  before(async () => {
    a = podmanStore('kairos-podman-a-');
    b = podmanStore('kairos-podman-b-');
    registry = await startRegistry();
    reg = parseRegistry(registry.flag) as Registry;
    await importBase(a);
    writeProject(project, {
      'env/Containerfile': 'FROM localhost/kairos-test-base:1\nRUN echo built-inside > /built.txt\nCOPY greeting.txt /greeting.txt\n',
      'env/greeting.txt': 'hello from the image\n',
      'job.sh': 'cat /greeting.txt /built.txt; echo "cwd=$(pwd) who=$WHO"; ls /bundle-marker 2>/dev/null || echo "no host files"\n',
    });
  });

  after(async () => {
    const left = [...(await a.containers()), ...(await b.containers())];
    const mounts = [...a.mounts(), ...b.mounts()];
    await a.cleanup();
    await b.cleanup();
    await registry.stop();
    removeBusyboxTar();
    dir.cleanup();
    assert.deepEqual(left, [], 'containers left behind');
    assert.deepEqual(mounts, [], 'mounts left behind');
  });

  const place = (s: PodmanStore, id: string) => new LocalPlace({ launcher: createLauncher(workerBaseEnv(process.env)), sandbox: null, workerId: id, dataDir: join(dir.path, id), slots: 2, podman: s.settings });

  /** Runs `script` in `image` on `p`; the lines it wrote and how it ended. */
  async function runIn(p: LocalPlace, image: string, script: string, over: Partial<PlaceAttemptSpec> = {}, onStart?: (a: Awaited<ReturnType<LocalPlace['start']>>, out: string[]) => Promise<void>): Promise<{ out: string[]; end: PlaceEnd }> {
    const out: string[] = [];
    const runDir = join(dir.path, 'runs', String(++seq));
    mkdirSync(runDir, { recursive: true });
    const attempt = await p.start({
      name: placeAttemptName(`img${Date.now().toString(36)}${seq}`, 1),
      command: { kind: 'shell', script },
      cwd: project,
      env: { WHO: 'tester' },
      resources: {},
      timeLimitMs: null,
      graceMs: 1000,
      paths: { readOnly: [project], writable: [join(runDir, 'artifacts')], writableFiles: [join(runDir, 'output.jsonl')] },
      image: { ref: image, network: 'none' },
      onLines: (_stream, lines) => out.push(...lines),
      ...over,
    });
    if (onStart) await onStart(attempt, out);
    return { out, end: await attempt.ended };
  }

  let built: PreparedImage;

  test('a Containerfile builds offline from the base image, is pushed, and a second prepare is a cache hit', async () => {
    const cache = new ImageCache(a.settings, join(dir.path, 'locks-a'));
    const log: string[] = [];
    // Two at once on one machine: one builds, the other waits for it.
    const [first, second] = await Promise.all([cache.prepare(env, project, reg, null, (l) => log.push(l)), cache.prepare(env, project, reg, null, (l) => log.push(l))]);
    assert.equal([first.built, second.built].filter(Boolean).length, 1, log.join('\n'));
    assert.deepEqual(first.ref, second.ref);
    built = first.built ? first : second;
    assert.match(built.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(built.ref, `127.0.0.1:${registry.port}/team/kairos-env@${built.digest}`);
    assert.ok(log.some((l) => /waiting for environment box/.test(l) || /is ready/.test(l)), log.join('\n'));
    const again = await cache.prepare(env, project, reg, null, () => {});
    assert.equal(again.built, false);
    assert.equal(again.digest, built.digest);
    // --layers=false: no intermediate images; just the base and the built one (under its tag and digest).
    const images = (await a.run(['images', '--all', '--format', '{{.Repository}}:{{.Tag}}'])).split('\n').filter((l) => l.trim() !== '');
    assert.ok(!images.some((i) => i.startsWith('<none>')), images.join('\n'));
    assert.equal(repositoryOf(built.ref), `127.0.0.1:${registry.port}/team/kairos-env`);
  });

  test('the image pushed from one store is pulled and run by a second store with identical output', async () => {
    const cacheB = new ImageCache(b.settings, join(dir.path, 'locks-b'));
    const log: string[] = [];
    const onB = await cacheB.prepare(env, project, reg, null, (l) => log.push(l));
    assert.equal(onB.built, false, log.join('\n'));
    assert.equal(onB.digest, built.digest);
    assert.ok(log.some((l) => /pulled from the team's registry/.test(l)), log.join('\n'));
    const pa = place(a, 'machine-a');
    const pb = place(b, 'machine-b');
    try {
      const ra = await runIn(pa, built.ref, 'sh job.sh');
      const rb = await runIn(pb, onB.ref, 'sh job.sh');
      assert.deepEqual([ra.end.reason, ra.end.exitCode], ['exit_code', 0], ra.out.join('\n'));
      assert.deepEqual(ra.out, ['hello from the image', 'built-inside', `cwd=${project} who=tester`, 'no host files']);
      assert.deepEqual(rb.out, ra.out);
      // A rerun pinned to the recorded image gets those bytes again, even on a machine that never had them.
      const c = podmanStore('kairos-podman-c-');
      try {
        const pinned = await new ImageCache(c.settings, join(dir.path, 'locks-c')).prepare(env, project, reg, { ref: built.ref, digest: built.digest }, () => {});
        assert.equal(pinned.digest, built.digest);
      } finally {
        await c.cleanup();
      }
    } finally {
      await pa.close();
      await pb.close();
    }
  });

  test('memory and cpu limits are enforced; an out-of-memory kill is oom', async () => {
    const p = place(a, 'limits');
    try {
      const cg = await runIn(p, built.ref, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max', { resources: { memoryBytes: 64 * 1024 * 1024, cpu: 0.5 } });
      assert.equal(cg.end.exitCode, 0, cg.out.join('\n'));
      assert.equal(cg.out[0], String(64 * 1024 * 1024));
      assert.match(cg.out[1] ?? '', /^50000\b/);
      const oom = await runIn(p, built.ref, 'exec dd if=/dev/zero of=/dev/null bs=300M count=1', { resources: { memoryBytes: 64 * 1024 * 1024 } });
      assert.equal(oom.end.reason, 'oom', JSON.stringify(oom.end));
      // A job that exits 137 by itself under a limit, far below it, is not an out-of-memory kill.
      const own = await runIn(p, built.ref, 'exit 137', { resources: { memoryBytes: 64 * 1024 * 1024 } });
      assert.notEqual(own.end.reason, 'oom');
    } finally {
      await p.close();
    }
  });

  test('a cancel kills the container; nothing is left', async () => {
    const p = place(a, 'cancel');
    try {
      const r = await runIn(p, built.ref, 'echo up; sleep 300; echo survived', {}, async (attempt, out) => {
        await waitFor('the job to start', () => out.includes('up'), 120_000);
        await attempt.cancel('cancelled');
      });
      assert.equal(r.end.reason, 'cancelled');
      assert.ok(!r.out.includes('survived'));
      assert.deepEqual(await a.containers(), []);
    } finally {
      await p.close();
    }
  });

  test('the network of the environment: none has loopback only; host sees the machine', async () => {
    const p = place(a, 'network');
    try {
      const none = await runIn(p, built.ref, 'ls /sys/class/net | sort | tr "\\n" " "');
      assert.equal(none.out[0]?.trim(), 'lo');
      const host = await runIn(p, built.ref, 'ls /sys/class/net | wc -l', { image: { ref: built.ref, network: 'host' } });
      assert.ok(Number(host.out[0]) >= 1);
    } finally {
      await p.close();
    }
  });
});
