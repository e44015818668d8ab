/**
 * Backoff, the pure part of every retry in Kairos: a run's retries (src/model/run-state.ts), webhook
 * deliveries (src/model/alerts.ts), and the reports and transactions retried by src/lib/retry.ts. No timers;
 * randomness is an argument.
 */

export interface Backoff {
  /** The wait after the first failure. */
  readonly baseMs: number;
  /** Multiplier applied after each further failure (1 = constant). */
  readonly factor: number;
  readonly maxMs: number;
  /** How much of the wait is randomised, ± half of it, to spread retries apart: 0 none, 0.4 ±20%, 2 anywhere from 0 to twice it. */
  readonly jitter: number;
}

/** The wait after `failures` failures in a row (1 = the first): base × factor^(failures-1), capped, spread by `random` ∈ [0, 1). */
export function backoffDelay(b: Backoff, failures: number, random: number): number {
  const base = Math.min(b.maxMs, b.baseMs * Math.pow(b.factor, Math.max(0, failures - 1)));
  const spread = base * b.jitter * (random - 0.5);
  return Math.max(0, Math.round(base + spread));
}
