/** Ending an attempt, the one path every report, claim and the reaper take to move a run on when an attempt ends. */
import { KairosError } from '../../model/errors.js';
import type { ReasonCode } from '../../model/reasons.js';
import type { AttemptOutcome, RunState } from '../../model/run-state.js';
import type { AttemptRow, Q, RunRow } from '../../store/runs.js';
import { transitionRun } from '../../store/transitions.js';
import type { Ctx } from '../context.js';
import { enqueueRunEnded } from '../alerts.js';

/** How an attempt ended, as the control plane records it. */
export interface AttemptEnd {
  readonly outcome: AttemptOutcome;
  readonly exitCode: number | null;
  readonly reason: string | null;
  readonly reasonCode: ReasonCode | null;
  /** The process's start, when the worker reports it with the end (a short job): written in the same statement. */
  readonly started?: Pick<AttemptRow, 'started_at' | 'pid' | 'proc_start'>;
}

/** Writes an attempt's end (its row only: the run is moved on by `endAttempt`). */
export async function recordAttemptEnd(trx: Q, attempt: Pick<AttemptRow, 'run_id' | 'number'>, end: AttemptEnd, now: number): Promise<void> {
  await trx
    .updateTable('attempts')
    .set({ ...end.started, state: end.outcome, finished_at: now, exit_code: end.exitCode, reason: end.reason, reason_code: end.reasonCode })
    .where('run_id', '=', attempt.run_id)
    .where('number', '=', attempt.number)
    .execute();
}

/** Ends an attempt and moves the run on: to a terminal state, or back to the queue for a retry. */
export async function endAttempt(ctx: Ctx, trx: Q, run: RunRow, attempt: AttemptRow, end: AttemptEnd, now: number): Promise<{ state: RunState; requeued: boolean }> {
  await recordAttemptEnd(trx, attempt, end, now);
  const manifest = await ctx.manifestOf(run.deployment_id, trx);
  const spec = manifest.jobs[run.job];
  if (!spec) throw new Error(`deployment ${run.deployment_id} lost job ${run.job}`);
  const event = { kind: 'attempt_ended', outcome: end.outcome, retry: spec.retries, random: ctx.random() } as const;
  let written: Partial<RunRow> = {};
  const t = await transitionRun(trx, run, event, now, (t) => {
    const requeue = t.effects.find((e) => e.kind === 'requeue');
    if (requeue?.kind === 'requeue') {
      written = { exit_code: end.exitCode, not_before: requeue.notBefore, reason: t.reason ?? end.reason, reason_code: end.reasonCode };
    } else if (t.next.state === 'cancelled') {
      // An acknowledged cancel wins over whatever the process did afterwards.
      // A cancel the worker decided itself (a service's idle_stop) keeps the worker's reason.
      written = { exit_code: end.exitCode, finished_at: now, reason: run.cancel_requested === 1 ? (run.reason ?? 'cancelled') : (end.reason ?? run.reason ?? 'cancelled'), reason_code: 'cancelled' };
    } else {
      written = { exit_code: end.exitCode, finished_at: now, reason: end.reason, reason_code: t.next.state === 'succeeded' ? null : end.reasonCode };
    }
    return written;
  });
  if (!t) throw new KairosError('conflict', `run ${run.id} changed while its attempt ${attempt.number} ended`);
  const requeued = t.effects.some((e) => e.kind === 'requeue');
  // Alerts are enqueued with the run's end, in the same transaction: one exists exactly when the end does.
  if (!requeued) await enqueueRunEnded(trx, { ...run, ...written, state: t.next.state, attempt: t.next.attempt }, spec, now);
  return { state: t.next.state, requeued };
}
