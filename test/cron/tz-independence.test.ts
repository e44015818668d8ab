/**
 * Results must not depend on the host's time zone: the pinned daylight-saving tests run again in child processes
 * whose TZ is set to zones with unusual offsets and their own daylight saving.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const dstTests = fileURLToPath(new URL('./dst.test.js', import.meta.url));

function childEnv(tz: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: tz };
  // Without this the child would report to our runner instead of running as its own test run.
  delete env['NODE_TEST_CONTEXT'];
  return env;
}

for (const [tz, januaryOffsetMin] of [
  ['America/Los_Angeles', -480],
  ['Asia/Kolkata', 330],
  ['Pacific/Chatham', 825],
] as const) {
  test(`the pinned daylight-saving tests pass with the host TZ=${tz}`, async () => {
    // The child really runs in that zone: its local-time Date methods say so.
    const probe = await run(process.execPath, ['-e', 'console.log(-new Date(Date.UTC(2026, 0, 15)).getTimezoneOffset())'], {
      env: childEnv(tz),
    });
    assert.equal(Number(probe.stdout.trim()), januaryOffsetMin);
    try {
      const { stdout } = await run(process.execPath, ['--test', '--test-reporter=tap', dstTests], {
        env: childEnv(tz),
        maxBuffer: 16 * 1024 * 1024,
      });
      assert.match(stdout, /^# fail 0$/m);
      assert.match(stdout, /^# pass [1-9]\d*$/m);
    } catch (e) {
      const err = e as { code?: unknown; stdout?: unknown };
      assert.fail(`dst tests failed under TZ=${tz} (exit ${String(err.code)}):\n${String(err.stdout ?? e)}`);
    }
  });
}
