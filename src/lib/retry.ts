/**
 * The one retry loop: call, and after a failure wait out the backoff (src/model/retry.ts) and call again,
 * until it succeeds, the error is one that retrying cannot mend, or the tries run out.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay, type Backoff } from '../model/retry.js';

export interface RetryOptions {
  readonly backoff: Backoff;
  /** Calls in all, the first included. */
  readonly maxTries: number;
  /** True for an error that will not go away (it is thrown at once). Default: every error is retried. */
  readonly fatal?: (err: unknown) => boolean;
  /** True for an error that is waited out however long it lasts (e.g. a database that is unavailable): it does not count against `maxTries`. */
  readonly outlasts?: (err: unknown) => boolean;
  readonly random?: () => number;
}

export async function retrying<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (o.fatal?.(err) === true) throw err;
      if (attempt >= o.maxTries && o.outlasts?.(err) !== true) throw err;
      await sleep(backoffDelay(o.backoff, attempt, (o.random ?? Math.random)()));
    }
  }
}
