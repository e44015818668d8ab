#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// The commands that run until stopped (`up`, `server`, `worker`): V8's young generation grows to 32 MB under
// a steady stream of requests and stays there; held at its first size (1 MB a half), `kairos up` peaked about
// 20 MB lower at the 1000-run bench (docs/benchmarks.md). Read at each growth decision, so set before the
// modules load (loading them is what grows it first).
if (['up', 'server', 'worker'].includes(process.argv[2] ?? '')) setFlagsFromString('--semi-space-growth-factor=1');

import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(70);
});
