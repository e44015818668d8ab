// Builds the native launcher (src/worker/places/launcher.c) into dist/kairos-launcher. Runs at `npm ci`
// (the `prepare` script). Without a C compiler Kairos still works: workers use the Node.js launcher, which
// forks more slowly. Set KAIROS_REQUIRE_NATIVE=1 (as CI does) to make a failed build an error.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'kairos-launcher');
mkdirSync(dirname(out), { recursive: true });
const cc = process.env.CC || 'cc';
const r = spawnSync(cc, ['-O2', '-Wall', '-o', out, join(root, 'src', 'worker', 'places', 'launcher.c')], { stdio: 'inherit' });
if (r.status !== 0) {
  const msg = `kairos: could not build the native launcher with ${cc}; workers will use the slower Node.js launcher`;
  if (process.env.KAIROS_REQUIRE_NATIVE === '1') {
    console.error(msg);
    process.exit(1);
  }
  console.warn(msg);
}
