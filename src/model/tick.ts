/**
 * Outcomes of a tick in the ledger (see ./glossary.ts). Each tick of a schedule is decided once:
 *
 *   fired    a run was created for it, decided within LATE_AFTER_MS of its instant
 *   late     a run was created for it, but the decision came more than LATE_AFTER_MS after its instant
 *            (after downtime, a pause, or an overloaded scheduler); `lateness_ms` says by how much
 *   skipped  no run; the ledger's reason says why (paused, catch-up policy, concurrency policy, …)
 */
export const TICK_OUTCOME = { fired: 'fired', late: 'late', skipped: 'skipped' } as const;
export type TickOutcome = (typeof TICK_OUTCOME)[keyof typeof TICK_OUTCOME];
export const TICK_OUTCOME_LIST: readonly TickOutcome[] = Object.values(TICK_OUTCOME);

/**
 * A tick decided at most this long after its instant is on time: it is recorded `fired`, and under
 * `catchup: none` it still runs (a scheduler that was merely busy for a moment has not missed it).
 */
export const LATE_AFTER_MS = 60_000;

/** The outcome of a tick that created a run, `latenessMs` after its instant. */
export function firedOutcome(latenessMs: number): TickOutcome {
  return latenessMs > LATE_AFTER_MS ? TICK_OUTCOME.late : TICK_OUTCOME.fired;
}

/** True for the outcomes that created a run. */
export function createdRun(outcome: string): boolean {
  return outcome === TICK_OUTCOME.fired || outcome === TICK_OUTCOME.late;
}
