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

placeConformance('kubernetes (fake API server)', () => Promise.resolve(fakePlace()), { dir: () => join(dir.path, 'conformance'), limitsMemory: false, timeLimitMs: 1000, mergesStreams: true });

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
