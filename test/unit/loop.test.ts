/** The one periodic loop and the one retry helper: real timers, no mocks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Loop } from '../../src/lib/loop.js';
import { retrying } from '../../src/lib/retry.js';
import { backoffDelay } from '../../src/model/retry.js';
import { waitFor } from '../helpers.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('stop() resolves only after the pass in flight has finished, and no pass starts after it', async () => {
  const release = deferred();
  let passes = 0;
  let finished = 0;
  const loop = new Loop({
    pass: async () => {
      passes++;
      await release.promise;
      finished++;
      return 0;
    },
    everyMs: 10,
    onError: (err) => assert.fail(String(err)),
  });
  loop.start();
  await waitFor('the first pass to begin', () => passes === 1);
  let stopped = false;
  const stopping = loop.stop().then(() => (stopped = true));
  // The pass is still running: stop must not have resolved.
  await new Promise((r) => setImmediate(r));
  assert.equal(stopped, false);
  release.resolve();
  await stopping;
  assert.equal(finished, 1);
  // A pass that asked for "again at once" (0 ms) was not started after stop.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(passes, 1);
});

test('a pass that throws is reported and the loop goes on; wakes during a pass coalesce into one more', async () => {
  const errors: unknown[] = [];
  let passes = 0;
  const gate = deferred();
  const loop = new Loop({
    pass: async () => {
      passes++;
      if (passes === 1) throw new Error('boom');
      if (passes === 2) await gate.promise;
    },
    everyMs: 60_000,
    errorDelayMs: 1,
    onError: (err) => errors.push(err),
  });
  loop.start();
  await waitFor('the second pass to begin', () => passes === 2);
  assert.equal(errors.length, 1);
  loop.wake();
  loop.wake();
  loop.wake();
  gate.resolve();
  await waitFor('the woken pass', () => passes === 3);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(passes, 3, 'three wakes during a pass make one more pass, not three');
  await loop.stop();
});

test('retrying calls again after failures with backoff, stops at a fatal error, and gives up after maxTries', async () => {
  let calls = 0;
  const got = await retrying(
    async (n) => {
      calls++;
      if (n < 3) throw new Error('busy');
      return 'ok';
    },
    { backoff: { baseMs: 1, factor: 2, maxMs: 4, jitter: 0 }, maxTries: 5 },
  );
  assert.equal(got, 'ok');
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(
    retrying(
      async () => {
        calls++;
        throw Object.assign(new Error('stale'), { code: 'stale_lease' });
      },
      { backoff: { baseMs: 1, factor: 2, maxMs: 4, jitter: 0 }, maxTries: 5, fatal: (e) => (e as { code?: string }).code === 'stale_lease' },
    ),
    /stale/,
  );
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(
    retrying(async () => {
      calls++;
      throw new Error('down');
    }, { backoff: { baseMs: 1, factor: 1, maxMs: 1, jitter: 0 }, maxTries: 4 }),
    /down/,
  );
  assert.equal(calls, 4);
});

test('backoff doubles from the base up to the cap, spread by the jitter', () => {
  const b = { baseMs: 100, factor: 2, maxMs: 1000, jitter: 0 };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(b, n, 0.5)), [100, 200, 400, 800, 1000, 1000]);
  const j = { ...b, jitter: 0.4 };
  assert.equal(backoffDelay(j, 1, 0), 80);
  assert.equal(backoffDelay(j, 1, 0.5), 100);
  assert.equal(backoffDelay(j, 1, 0.999999), 120);
});
