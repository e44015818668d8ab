import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideRetry, isTerminal, retryDelay, transition, RUN_STATE_LIST, type RunSnapshot } from '../../src/model/run-state.js';
import type { RetryPolicy } from '../../src/model/job.js';

const policy: RetryPolicy = { max: 2, delayMs: 1000, backoff: 2, maxDelayMs: 3000, jitter: 0, on: ['failed', 'timed_out', 'lost'] };
const running: RunSnapshot = { state: 'running', attempt: 1, cancelRequested: false };

test('terminal states never change', () => {
  for (const state of RUN_STATE_LIST.filter(isTerminal)) {
    const snap = { state, attempt: 1, cancelRequested: false };
    assert.equal(transition(snap, { kind: 'start' }, 0).ok, false, `${state} cannot start`);
    assert.equal(transition(snap, { kind: 'attempt_ended', outcome: 'succeeded', retry: policy, random: 0.5 }, 0).ok, false);
    const c = transition(snap, { kind: 'cancel' }, 0);
    assert.ok(c.ok && !c.changed && c.next.state === state, `cancel of ${state} is a no-op`);
  }
});

test('a failed attempt is retried with exponential backoff up to the cap, then the run fails', () => {
  const t1 = transition(running, { kind: 'attempt_ended', outcome: 'failed', retry: policy, random: 0.5 }, 10_000);
  assert.ok(t1.ok);
  assert.deepEqual(t1.next, { state: 'queued', attempt: 2, cancelRequested: false });
  assert.deepEqual(t1.effects, [{ kind: 'requeue', attempt: 2, notBefore: 11_000 }]);
  const t2 = transition({ ...running, attempt: 2 }, { kind: 'attempt_ended', outcome: 'timed_out', retry: policy, random: 0.5 }, 0);
  assert.ok(t2.ok && t2.effects[0]?.kind === 'requeue' && t2.effects[0].notBefore === 2000);
  const t3 = transition({ ...running, attempt: 3 }, { kind: 'attempt_ended', outcome: 'timed_out', retry: policy, random: 0.5 }, 0);
  assert.ok(t3.ok);
  assert.equal(t3.next.state, 'timed_out');
  assert.equal(retryDelay(policy, 5, 0.5), 3000, 'capped at max_delay');
});

test('only the chosen outcomes retry; a lost attempt that is not retried fails the run', () => {
  const onlyTimeouts = { ...policy, on: ['timed_out'] as const };
  assert.deepEqual(decideRetry(onlyTimeouts, 1, 'failed', 0.5), { kind: 'stop' });
  assert.equal(decideRetry(onlyTimeouts, 1, 'timed_out', 0.5).kind, 'retry');
  const lost = transition(running, { kind: 'attempt_ended', outcome: 'lost', retry: { ...policy, max: 0 }, random: 0.5 }, 0);
  assert.ok(lost.ok && lost.next.state === 'failed');
});

test('jitter spreads delays within ± half the jitter fraction', () => {
  const p = { ...policy, jitter: 0.5 };
  assert.equal(retryDelay(p, 1, 0), 750);
  assert.equal(retryDelay(p, 1, 1), 1250);
});

test('an acknowledged cancel never ends as succeeded', () => {
  const c = transition(running, { kind: 'cancel' }, 0);
  assert.ok(c.ok && c.changed);
  assert.deepEqual(c.effects, [{ kind: 'signal_cancel' }]);
  const end = transition(c.next, { kind: 'attempt_ended', outcome: 'succeeded', retry: policy, random: 0.5 }, 0);
  assert.ok(end.ok && end.next.state === 'cancelled');
  const again = transition(c.next, { kind: 'cancel' }, 0);
  assert.ok(again.ok && !again.changed, 'cancel is idempotent');
});

test('a queued run cancels at once', () => {
  const c = transition({ state: 'queued', attempt: 1, cancelRequested: false }, { kind: 'cancel' }, 0);
  assert.ok(c.ok && c.next.state === 'cancelled' && c.effects.length === 0);
});
