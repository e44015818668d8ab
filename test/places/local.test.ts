/** The place conformance suite (./conformance.ts) on the local place. */
import { after } from 'node:test';
import { workerBaseEnv } from '../../src/model/run-env.js';
import { createLauncher } from '../../src/worker/places/launchers.js';
import { LocalPlace } from '../../src/worker/places/local-place.js';
import { tempDir } from '../helpers.js';
import { placeConformance } from './conformance.js';

const dir = tempDir('kairos-place-local-');
after(() => dir.cleanup());

placeConformance(
  'local',
  () => Promise.resolve(new LocalPlace({ launcher: createLauncher(workerBaseEnv(process.env)), sandbox: null, workerId: 'conformance', dataDir: dir.path, slots: 4 })),
  { dir: () => dir.path, limitsMemory: true },
);
