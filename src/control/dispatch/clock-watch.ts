/**
 * Telling time passing from a stall or a step of the clock. A lease expires by the clock `now()` reads (the
 * database's on PostgreSQL, so that every replica agrees). Two things move that clock without any worker having
 * gone quiet:
 *
 * - the clock steps forward (a virtual machine resumed, an NTP correction): `now()` jumps while a clock that
 *   never jumps (`mono`) does not;
 * - this control plane did not run for a while (its process was stopped, swapped out, or its event loop held):
 *   no heartbeat could be heard meanwhile, whether or not the workers sent them. In `kairos up` the worker is in
 *   the same process and was stalled with it.
 *
 * Either way, the first transaction of the reaper or a heartbeat afterwards gives every running lease back the
 * time nobody could hear it (the jump, or the stall), instead of the reaper ending those attempts as lost. A
 * healthy worker renewed its lease within a third of a lease before the stall began, so only a stall longer than
 * two thirds of a lease can cost it its lease: half a lease unobserved is taken as a stall (the reaper looks every
 * quarter of a lease at most, and heartbeats come every third).
 */

/** A step of `now()` ahead of the monotonic clock larger than this is a jump, not drift or scheduling noise. */
const JUMP_MS = 1000;

export class ClockWatch {
  private last: { now: number; mono: number } | null = null;

  /**
   * Records an observation; says how many milliseconds running leases must be given back (the clock jumped, or
   * nothing observed it for over `stallMs`), or 0. `mono` undefined (a test's clock that steps `now` on purpose): 0.
   */
  lapse(now: number, mono: number | undefined, stallMs: number): number {
    if (mono === undefined) return 0;
    const last = this.last;
    this.last = { now, mono };
    if (!last) return 0;
    const gap = mono - last.mono;
    const jump = now - last.now - gap;
    if (jump > JUMP_MS) return Math.ceil(jump);
    if (gap > stallMs) return Math.ceil(gap);
    return 0;
  }
}
