/** The artifact store's conformance suite against the local directory (the default store). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { openArtifactStore } from '../../src/artifacts/store.js';
import { tempDir } from '../helpers.js';
import { storeConformance } from './store-conformance.js';

const dir = tempDir('kairos-art-local-');
after(() => dir.cleanup());
const store = openArtifactStore({ dataDir: dir.path });

storeConformance('local', () => ({
  store,
  dir: dir.path,
  corrupt(sha256, bytes) {
    writeFileSync(join(dir.path, 'artifacts', 'sha256', sha256.slice(0, 2), sha256), bytes);
    return Promise.resolve();
  },
}));
