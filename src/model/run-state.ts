/**
 * The run state machine. Nothing else decides a run's state: the store applies what `transition` returns.
 *
 *            ┌──────── retry (new attempt, after a delay) ────────┐
 *            ▼                                                     │
 *   ──▶  queued ──start──▶ running ──attempt ended──▶ succeeded | failed | timed_out | cancelled
 *            │                 │
 *            │ cancel          │ cancel: flagged; the worker ends the process group, the attempt ends,
 *            ▼                 ▼         and the run ends `cancelled` whatever the exit code was
 *        cancelled         (running, cancel requested)
 *
 *   skipped: a run recorded for a tick that policy did not execute (terminal from birth).
 *
 * Terminal states never change. Cancel is idempotent.
 */
import type { RetryOn, RetryPolicy } from './job.js';
import { backoffDelay } from './retry.js';

export const RUN_STATES = {
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  timed_out: 'timed_out',
  cancelled: 'cancelled',
  skipped: 'skipped',
} as const;
export type RunState = (typeof RUN_STATES)[keyof typeof RUN_STATES];
export const RUN_STATE_LIST: readonly RunState[] = Object.values(RUN_STATES);

const TERMINAL: ReadonlySet<RunState> = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'skipped']);
export function isTerminal(state: RunState): boolean {
  return TERMINAL.has(state);
}
export function isActive(state: RunState): boolean {
  return state === 'queued' || state === 'running';
}
export function isRunState(s: string): s is RunState {
  return (RUN_STATE_LIST as readonly string[]).includes(s);
}

/** How one attempt ended. `lost`: its lease expired (worker died, network cut). */
export const ATTEMPT_OUTCOMES = ['succeeded', 'failed', 'timed_out', 'cancelled', 'lost'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];
/** An attempt's state: `running` under its lease, then how it ended. */
export const ATTEMPT_STATES = ['running', ...ATTEMPT_OUTCOMES] as const;
export type AttemptState = (typeof ATTEMPT_STATES)[number];

export const TRIGGERS = ['schedule', 'manual', 'backfill', 'rerun'] as const;
export type Trigger = (typeof TRIGGERS)[number];

/** What the state machine needs to know about a run. */
export interface RunSnapshot {
  readonly state: RunState;
  readonly attempt: number;
  readonly cancelRequested: boolean;
}

export type RunEvent =
  | { readonly kind: 'start' }
  | { readonly kind: 'cancel' }
  /** A queued run that never started within its job's `start_timeout`. */
  | { readonly kind: 'start_timeout' }
  | { readonly kind: 'attempt_ended'; readonly outcome: AttemptOutcome; readonly retry: RetryPolicy; readonly random: number };

export type Effect =
  | { readonly kind: 'signal_cancel' }
  | { readonly kind: 'requeue'; readonly attempt: number; readonly notBefore: number };

export type Transition =
  | { readonly ok: true; readonly changed: boolean; readonly next: RunSnapshot; readonly effects: readonly Effect[]; readonly reason?: string }
  | { readonly ok: false; readonly error: string };

export type RetryDecision = { readonly kind: 'retry'; readonly delayMs: number } | { readonly kind: 'stop' };

/** Whether an attempt that ended with `outcome` (the `attempt`-th, counting from 1) is tried again, and when. */
export function decideRetry(policy: RetryPolicy, attempt: number, outcome: AttemptOutcome, random: number): RetryDecision {
  if (outcome === 'succeeded' || outcome === 'cancelled') return { kind: 'stop' };
  if (!policy.on.includes(outcome as RetryOn)) return { kind: 'stop' };
  if (attempt > policy.max) return { kind: 'stop' };
  return { kind: 'retry', delayMs: retryDelay(policy, attempt, random) };
}

/** Delay before attempt `attempt + 1`: delay × backoff^(attempt-1), capped, with ± jitter/2 spread. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: number): number {
  return backoffDelay({ baseMs: policy.delayMs, factor: policy.backoff, maxMs: policy.maxDelayMs, jitter: policy.jitter }, attempt, random);
}

function terminalFor(outcome: AttemptOutcome): RunState {
  switch (outcome) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
    case 'lost':
      return 'failed';
    case 'timed_out':
      return 'timed_out';
    case 'cancelled':
      return 'cancelled';
    default:
      return assertNever(outcome);
  }
}

export function transition(run: RunSnapshot, event: RunEvent, now: number): Transition {
  switch (event.kind) {
    case 'start':
      if (run.state !== 'queued') return { ok: false, error: `cannot start a run that is ${run.state}` };
      return { ok: true, changed: true, next: { ...run, state: 'running' }, effects: [] };
    case 'cancel':
      if (isTerminal(run.state) || run.cancelRequested) return { ok: true, changed: false, next: run, effects: [] };
      if (run.state === 'queued') return { ok: true, changed: true, next: { ...run, state: 'cancelled', cancelRequested: true }, effects: [], reason: 'cancelled before it started' };
      return { ok: true, changed: true, next: { ...run, cancelRequested: true }, effects: [{ kind: 'signal_cancel' }] };
    case 'start_timeout':
      if (run.state !== 'queued') return { ok: true, changed: false, next: run, effects: [] };
      return { ok: true, changed: true, next: { ...run, state: 'failed' }, effects: [], reason: 'not started in time' };
    case 'attempt_ended': {
      if (run.state !== 'running') return { ok: false, error: `an attempt cannot end while the run is ${run.state}` };
      // An acknowledged cancel wins over whatever the process did afterwards.
      if (run.cancelRequested) return { ok: true, changed: true, next: { ...run, state: 'cancelled' }, effects: [], reason: 'cancelled' };
      const decision = decideRetry(event.retry, run.attempt, event.outcome, event.random);
      if (decision.kind === 'retry') {
        const next = { ...run, state: 'queued' as const, attempt: run.attempt + 1 };
        return { ok: true, changed: true, next, effects: [{ kind: 'requeue', attempt: next.attempt, notBefore: now + decision.delayMs }], reason: `attempt ${run.attempt} ${event.outcome}; retry in ${decision.delayMs}ms` };
      }
      return { ok: true, changed: true, next: { ...run, state: terminalFor(event.outcome) }, effects: [] };
    }
    default:
      return assertNever(event);
  }
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
