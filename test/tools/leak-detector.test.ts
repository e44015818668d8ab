/**
 * tools/test.mjs fails a test run that leaves a process behind, even when every test passed, and kills it;
 * a run that leaves nothing behind passes. Each case runs tools/test.mjs on a small test file in a temporary
 * directory (without PostgreSQL: KAIROS_TEST_PG_URL is set, so none is started).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exited, isAlive, ROOT, tempDir, waitFor } from '../helpers.js';

function runTools(file: string): Promise<{ code: number | null; out: string }> {
  // Without NODE_TEST_CONTEXT: set by the `node --test` running this file, it would make the inner one report
  // to us instead of running its file.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const child = spawn(process.execPath, [join(ROOT, 'tools', 'test.mjs'), file], {
    env: { ...env, KAIROS_TEST_PG_URL: 'postgres://unused@127.0.0.1:1/none', KAIROS_TEST_LEAK_GRACE_MS: '3000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return exited(child).then((code) => ({ code, out }));
}

test('a test run whose test leaves a process running fails, names it and kills it', { timeout: 600_000 }, async (t) => {
  const dir = tempDir('kairos-leak-');
  t.after(() => dir.cleanup());
  const pidFile = join(dir.path, 'pid');
  const file = join(dir.path, 'leaky.test.mjs');
  writeFileSync(
    file,
    `import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
test('passes but forgets its child', () => {
  const c = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  c.unref();
  writeFileSync(${JSON.stringify(pidFile)}, String(c.pid));
});
`,
  );
  const r = await runTools(file);
  const { readFileSync } = await import('node:fs');
  const pid = Number(readFileSync(pidFile, 'utf8'));
  // If the detector failed, the sleep is still there: end it here so this test leaks nothing either way.
  t.after(() => {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  });
  assert.match(r.out, /# pass 1/, 'the test itself passed');
  assert.notEqual(r.code, 0, `the run must fail:\n${r.out}`);
  assert.match(r.out, new RegExp(`outlived the tests[\\s\\S]*pid ${pid}: sleep 300`));
  await waitFor('the leaked process to be killed', () => !isAlive(pid), 30_000);
});

test('a test run that leaves nothing running passes', { timeout: 600_000 }, async (t) => {
  const dir = tempDir('kairos-leak-');
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'tidy.test.mjs');
  writeFileSync(
    file,
    `import { test } from 'node:test';
import { spawn } from 'node:child_process';
test('waits for its child', async () => {
  const c = spawn('sleep', ['0.1'], { stdio: 'ignore' });
  await new Promise((r) => c.on('exit', r));
});
`,
  );
  const r = await runTools(file);
  assert.equal(r.code, 0, r.out);
  assert.doesNotMatch(r.out, /outlived/);
});
