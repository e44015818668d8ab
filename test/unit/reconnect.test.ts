/** The worker's pauses between failed claims, and what it says while the control plane does not answer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkState, retryDelayMs } from '../../src/worker/reconnect.js';

test('pauses between failed claims start at 0.5 s, double, stay under 30 s, and are jittered', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 50].map((n) => retryDelayMs(n, 0.999999)), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.deepEqual([1, 2, 7].map((n) => retryDelayMs(n, 0)), [250, 500, 15000]);
  const draws = new Set([0.1, 0.4, 0.8].map((r) => retryDelayMs(5, r)));
  assert.equal(draws.size, 3, 'different draws give different pauses');
});

test('an outage is said once, however many requests fail, and its end is said once', () => {
  const said: string[] = [];
  let now = 1_000;
  const s = new LinkState((e) => said.push(`error: ${e.message}`), (m) => said.push(m), () => now);
  const unreachable = (why: string) => Object.assign(new Error(`cannot reach the Kairos server (${why})`), { name: 'ConnectionError' });
  for (let i = 0; i < 1000; i++) s.failed(i % 2 ? 'claim' : 'heartbeat', unreachable(i % 3 ? 'connect ECONNREFUSED' : 'socket hang up'));
  assert.equal(said.length, 1);
  assert.match(said[0] ?? '', /^error: cannot reach the Kairos server \(socket hang up\).*said once/);
  s.failed('claim', new Error('HTTP 503'));
  s.failed('claim', new Error('HTTP 503'));
  assert.equal(said.length, 2, 'a different reason is said once too');
  now += 12_000;
  assert.equal(s.ok('heartbeat'), true);
  assert.equal(s.ok('claim'), false, 'the outage ended once');
  assert.match(said[2] ?? '', /answers again \(it did not for 12 s\)/);
  s.failed('claim', unreachable('connect ECONNREFUSED'));
  assert.equal(said.length, 4, 'a new outage is said again');
});
