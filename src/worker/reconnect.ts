/**
 * How a worker behaves while the control plane does not answer: it tries again after a growing, jittered
 * pause (never in a tight loop), and it says so once when the trouble starts and once when it is over,
 * instead of once per failed request.
 */
import { coerceError } from '../model/errors.js';

/** The first pause after a failed claim, and the longest. */
export const RETRY_FIRST_MS = 500;
export const RETRY_MAX_MS = 30_000;

/**
 * The pause before try number `failures` + 1 (`failures` ≥ 1): 0.5 s doubling up to 30 s, each drawn between
 * half and all of that ("equal jitter"), so the workers of a fleet that lost the server together do not all
 * come back in the same instant. `random` is in [0, 1).
 */
export function retryDelayMs(failures: number, random: number, firstMs = RETRY_FIRST_MS, maxMs = RETRY_MAX_MS): number {
  const ceiling = Math.min(maxMs, firstMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(ceiling / 2 + (ceiling / 2) * Math.min(1, Math.max(0, random)));
}

/** The worker's requests to the control plane, each kind reported separately (claims, heartbeats). */
export type LinkSource = 'claim' | 'heartbeat';

/**
 * Whether the control plane answers, as the worker's requests see it. Says the first failure of an outage
 * (and any other reason that shows up during it, once), and says when every kind of request works again.
 */
export class LinkState {
  private readonly failing = new Set<LinkSource>();
  private readonly said = new Set<string>();
  private since = 0;

  constructor(
    private readonly warn: (err: Error) => void,
    private readonly notice: (message: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get down(): boolean {
    return this.failing.size > 0;
  }

  isFailing(source: LinkSource): boolean {
    return this.failing.has(source);
  }

  failed(source: LinkSource, err: unknown): void {
    if (this.failing.size === 0) this.since = this.now();
    this.failing.add(source);
    const e = coerceError(err);
    // Each reason once per outage (and at most a few reasons): a dead server must not flood the log. Not
    // reaching the server is one reason, whichever way the connection failed (refused, reset, timed out).
    const reason = e.name === 'ConnectionError' ? e.name : e.message;
    if (this.said.has(reason) || this.said.size >= 10) return;
    this.said.add(reason);
    const first = this.said.size === 1;
    this.warn(first ? new Error(`${e.message} (trying again with pauses growing up to ${RETRY_MAX_MS / 1000} s; said once until it answers)`) : e);
  }

  /**
   * A request of this kind was answered: the control plane is there again, so the outage is over for every
   * kind (a claim then waiting on the server has not failed). Returns true when that ended an outage.
   */
  ok(source: LinkSource): boolean {
    if (!this.failing.has(source)) return false;
    this.failing.clear();
    const secs = Math.max(1, Math.round((this.now() - this.since) / 1000));
    this.said.clear();
    this.notice(`the control plane answers again (it did not for ${secs} s); claiming runs`);
    return true;
  }
}
