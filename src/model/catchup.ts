/** Catch-up, the pure part of the scheduler: which of the ticks missed during a downtime or a pause still run. */
import type { CatchupPolicy } from './job.js';
import { LATE_AFTER_MS } from './tick.js';

/** How far behind its instant a tick may be decided and still count as on time (`fired`, and run under `catchup: none`). */
export const ON_TIME_TOLERANCE_MS = LATE_AFTER_MS;

export type TickDecision = { kind: 'fire'; instant: number; catchup: boolean } | { kind: 'skip'; instant: number; reason: string };

/** Why due ticks were not decided at their instant: the scheduler was not running, or the schedule was paused. */
export type MissedCause = 'downtime' | 'pause';

/**
 * Pure: which of the due ticks fire under a catch-up policy. `due` is ascending, every instant ≤ now.
 * none: only the latest, and only if it is on time; latest: only the latest; all: the most recent
 * `maxCatchup`, oldest first. The rest are skipped with the reason (after a pause: "paused").
 */
export function planCatchup(due: readonly number[], now: number, policy: CatchupPolicy, maxCatchup: number, cause: MissedCause = 'downtime'): TickDecision[] {
  const n = due.length;
  const paused = cause === 'pause';
  return due.map((instant, i): TickDecision => {
    const latest = i === n - 1;
    switch (policy) {
      case 'none':
        if (latest && now - instant <= ON_TIME_TOLERANCE_MS) return { kind: 'fire', instant, catchup: false };
        return { kind: 'skip', instant, reason: paused ? 'paused' : 'missed (catchup: none)' };
      case 'latest':
        if (latest) return { kind: 'fire', instant, catchup: n > 1 || now - instant > ON_TIME_TOLERANCE_MS };
        return { kind: 'skip', instant, reason: paused ? 'paused' : 'missed; a later tick ran instead (catchup: latest)' };
      case 'all':
        if (i >= n - maxCatchup) return { kind: 'fire', instant, catchup: n > 1 || now - instant > ON_TIME_TOLERANCE_MS };
        return { kind: 'skip', instant, reason: paused ? `paused; beyond max_catchup ${maxCatchup} (catchup: all)` : `missed; beyond max_catchup ${maxCatchup} (catchup: all)` };
    }
  });
}
