/**
 * Fire instants of an expression in a zone, with cron(8)'s daylight-saving rules:
 *
 * - fixed-hour (hour field not starting with `*`): once per matching wall date-time. A wall time skipped by a
 *   forward change fires at the change instant (several skipped times collapse into it); a wall time repeated by
 *   a backward change fires only at its first occurrence. Implemented with the monotone map
 *   M(wall) = earliest instant showing `wall`, or the change instant when `wall` falls in a gap: the next fire
 *   after A is M of the first matching wall greater than every wall time shown up to A.
 * - wildcard-hour (hour field starting with `*`): every real instant whose wall time matches. Implemented by
 *   walking the stretches of constant offset.
 *
 * Every search stops after SEARCH_YEARS and returns null; parseCron rejects the expressions that never fire, and
 * the sparsest accepted ones (say, the 1st of February when it is a Monday) fire at least every dozen years.
 */
import { SECONDS_PER_DAY } from './civil.js';
import { compile, nextWallMatch } from './match.js';
import type { CompiledCron } from './match.js';
import type { CronExpr } from './parse.js';
import { MAX_INSTANT, toInstant, zoneClock } from './zone.js';
import type { ZoneClock } from './zone.js';

const SEARCH_YEARS = 50;
const SEARCH_SECONDS = SEARCH_YEARS * 366 * SECONDS_PER_DAY;
/** Wall times run ahead of instants by at most this much (see zone.ts). */
const MAX_OFFSET_SECONDS = 26 * 3600;

/** The first fire instant strictly after afterMs (epoch ms, always a whole second), or null if none within 50 years. */
export function nextFire(cron: CronExpr, zone: string, afterMs: number): number | null {
  const clock = zoneClock(zone);
  const after = toInstant(afterMs);
  const limit = Math.min(after + SEARCH_SECONDS, MAX_INSTANT);
  const c = compile(cron);
  const t = cron.hourMode === 'fixed-hour' ? nextFixedHour(clock, c, after, limit) : nextWildcardHour(clock, c, after, limit);
  return t === null || t > limit ? null : t * 1000;
}

/** Fire instants with fromExclusiveMs < t <= toInclusiveMs, oldest first, at most `limit` of them. */
export function fireTimesBetween(
  cron: CronExpr,
  zone: string,
  fromExclusiveMs: number,
  toInclusiveMs: number,
  limit: number,
): number[] {
  const out: number[] = [];
  let at = fromExclusiveMs;
  while (out.length < limit) {
    const next = nextFire(cron, zone, at);
    if (next === null || next > toInclusiveMs) break;
    out.push(next);
    at = next;
  }
  return out;
}

function nextFixedHour(clock: ZoneClock, c: CompiledCron, after: number, limit: number): number | null {
  // Walls up to maxWallUpTo(after) were all shown (or skipped over) by `after`, so their M is <= after; every
  // later wall has M > after. Just after a fall-back that bound is above after's own wall time, which is what
  // keeps the repeated hour from firing twice.
  const wall = nextWallMatch(c, clock.maxWallUpTo(after) + 1, limit + MAX_OFFSET_SECONDS);
  if (wall === null) return null;
  const t = clock.firstInstantOfWall(wall);
  if (t <= after) throw new Error(`internal error: fixed-hour fire ${t} is not after ${after} in ${clock.zone}`);
  return t;
}

function nextWildcardHour(clock: ZoneClock, c: CompiledCron, after: number, limit: number): number | null {
  let t = after + 1;
  // Each turn either returns or moves t to the next offset change, so the loop ends by `limit`.
  while (t <= limit) {
    const off = clock.offset(t);
    const wall = nextWallMatch(c, t + off, limit + off);
    if (wall === null) return null;
    const candidate = wall - off;
    const change = clock.firstChangeIn(t, candidate);
    if (change === null) return candidate;
    t = change.at;
  }
  return null;
}
