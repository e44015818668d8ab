/**
 * The one place a run's state is written. `transition` (src/model/run-state.ts) decides; `transitionRun`
 * applies its result to the row, in the caller's transaction, or writes nothing when it refuses.
 */
import { KairosError } from '../model/errors.js';
import { transition, type RunEvent, type RunSnapshot, type Transition } from '../model/run-state.js';
import type { Q, RunRow } from './runs.js';
import type { RunsTable } from './schema.js';

export type Applied = Extract<Transition, { ok: true }>;
/** Columns written beside the state; the state machine's own (state, attempt, cancel_requested) are not among them. */
export type RunPatch = Partial<Omit<RunsTable, 'state' | 'attempt' | 'cancel_requested' | 'id'>>;

/** What the state machine needs of a run row. */
export function runSnapshot(run: Pick<RunRow, 'state' | 'attempt' | 'cancel_requested'>): RunSnapshot {
  return { state: run.state, attempt: run.attempt, cancelRequested: run.cancel_requested === 1 };
}

/**
 * Applies `event` to the run as read (`run`): refused → a `conflict` error and nothing written; no change →
 * nothing written; otherwise the next state and `patch(t)` are written only while the row is still in the
 * state read. Returns null when it was not (another control plane changed it meanwhile): nothing written.
 */
export async function transitionRun(q: Q, run: RunRow, event: RunEvent, now: number, patch: (t: Applied) => RunPatch = () => ({})): Promise<Applied | null> {
  const t = transition(runSnapshot(run), event, now);
  if (!t.ok) throw new KairosError('conflict', `run ${run.id}: ${t.error}`);
  if (!t.changed) return t;
  const updated = await q
    .updateTable('runs')
    .set({ ...patch(t), state: t.next.state, attempt: t.next.attempt, cancel_requested: t.next.cancelRequested ? 1 : 0 })
    .where('id', '=', run.id)
    .where('state', '=', run.state)
    .executeTakeFirst();
  return Number(updated.numUpdatedRows) === 1 ? t : null;
}
