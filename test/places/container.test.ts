/**
 * The place conformance suite (./conformance.ts) on the local place in container mode: every attempt runs in
 * the test's own busybox image with real podman (runc, cgroupfs, a private store). The suite's directory is
 * mounted read-only into each container (the place mounts only an attempt's own paths; the suite's gate files
 * live beside them).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { workerBaseEnv } from '../../src/model/run-env.js';
import { createLauncher } from '../../src/worker/places/launchers.js';
import { LocalPlace } from '../../src/worker/places/local-place.js';
import type { Place, PlaceAttemptSpec } from '../../src/worker/places/place.js';
import { tempDir } from '../helpers.js';
import { placeConformance } from './conformance.js';
import { importBase, podmanMissing, podmanStore, removeBusyboxTar, type PodmanStore } from '../containers/podman-store.js';

const missing = podmanMissing();
const dir = tempDir('kairos-place-container-');
let store: PodmanStore | null = null;
let image = '';

before(async () => {
  if (missing) return;
  store = podmanStore();
  image = await importBase(store);
});

after(async () => {
  if (store) {
    // Nothing left behind: no container, no mount.
    const left = await store.containers();
    const mounts = store.mounts();
    await store.cleanup();
    removeBusyboxTar();
    dir.cleanup();
    assert.deepEqual(left, [], 'containers left behind');
    assert.deepEqual(mounts, [], 'mounts left behind');
  } else dir.cleanup();
});

/** The local place, with every attempt's spec naming the test image. */
function containerPlace(): Place {
  const s = store;
  if (!s) throw new Error('no podman store');
  const inner = new LocalPlace({ launcher: createLauncher(workerBaseEnv(process.env)), sandbox: null, workerId: 'conformance-container', dataDir: dir.path, slots: 4, podman: s.settings });
  const withImage = (spec: PlaceAttemptSpec): PlaceAttemptSpec => ({ ...spec, image: { ref: image, network: 'none' }, paths: { ...spec.paths, readOnly: [...spec.paths.readOnly, dir.path] } });
  return {
    kind: inner.kind,
    offer: () => inner.offer(),
    start: (spec) => inner.start(withImage(spec)),
    live: () => inner.live(),
    adopt: (name, output) => inner.adopt(name, output),
    end: (name) => inner.end(name),
    health: () => inner.health(),
    close: () => inner.close(),
  };
}

if (missing) {
  console.log(`# skipped: ${missing}`);
} else {
  placeConformance('local (podman container)', () => Promise.resolve(containerPlace()), {
    dir: () => dir.path,
    limitsMemory: true,
    oomCommand: { kind: 'argv', argv: ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=300M', 'count=1'] },
  });
}
