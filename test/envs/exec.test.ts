/**
 * Installers run through `execFile` (src/worker/envs/exec.ts). A child that exits before reading its input
 * must not take the worker down with it: the broken pipe is the child's business, its exit status says what
 * happened. Run in a separate Node process, so a crash shows as that process dying, not as this test runner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.js';

const EXEC = join(ROOT, 'dist', 'src', 'worker', 'envs', 'exec.js');

test('a child that exits at once, without reading its input, leaves the worker alive', (t) => {
  const dir = tempDir('kairos-exec-');
  t.after(() => dir.cleanup());
  const script = join(dir.path, 'worker.mjs');
  // Several megabytes of input: more than a pipe holds, so the write is still going when the child is gone.
  writeFileSync(
    script,
    `const { execFile } = await import(${JSON.stringify(EXEC)});
const codes = [];
for (let i = 0; i < 10; i++) codes.push((await execFile(['/bin/sh', '-c', 'exit 3'], { input: 'x'.repeat(4 * 1024 * 1024) })).code);
codes.push((await execFile(['/bin/sh', '-c', 'exit 4'])).code);
console.log(JSON.stringify({ alive: true, codes }));
`,
  );
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `the worker process died: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim()) as { alive: boolean; codes: number[] };
  assert.deepEqual(out, { alive: true, codes: [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4] });
});
