/**
 * Alerts, the control plane's part: enqueueing them in the outbox (in the transaction that ends a run or
 * stores its metrics, so an alert exists exactly when its cause was committed), and the small loop that
 * finds late scheduled runs. Delivery is ./webhooks.ts.
 */
import type { CompiledJob, NotifyRule } from '../model/job.js';
import { ALERT_KINDS, ALERT_STATES, alertsOnRunEnd, lateAlerts, metricCrossings, type AlertKind, type AlertPayload, type MetricValue } from '../model/alerts.js';
import { newId } from '../model/ids.js';
import type { RunState } from '../model/run-state.js';
import { getRun, type Q, type RunRow } from '../store/runs.js';
import type { Ctx } from './context.js';
import { Loop } from '../lib/loop.js';

/** The rules of a job. */
export function rulesOf(spec: CompiledJob): readonly NotifyRule[] {
  return spec.notify;
}

function payloadOf(run: RunRow, event: AlertKind, extra: Partial<AlertPayload> = {}): AlertPayload {
  return {
    event,
    project: run.project,
    job: run.job,
    run_id: run.id,
    state: run.state,
    reason: run.reason,
    reason_code: run.reason_code,
    exit_code: run.exit_code,
    attempt: run.attempt,
    scheduled_for: run.scheduled_for === null ? null : new Date(Number(run.scheduled_for)).toISOString(),
    ...extra,
  };
}

/**
 * Alerts this process has written (or tried to: a rolled-back transaction counts too). The delivery loop is
 * woken when a run ends only if this moved, so runs of jobs without rules cost it nothing.
 */
let enqueuedHere = 0;
export function alertsEnqueuedHere(): number {
  return enqueuedHere;
}

/** Adds one alert to the outbox; a second one of the same run, kind and rule is ignored (unique key). */
async function enqueue(trx: Q, run: Pick<RunRow, 'id' | 'project' | 'job'>, rule: NotifyRule, payload: AlertPayload, now: number): Promise<void> {
  enqueuedHere++;
  await trx
    .insertInto('alerts')
    .values({
      id: newId(now),
      project: run.project,
      job: run.job,
      run_id: run.id,
      rule: rule.id,
      kind: payload.event,
      payload_json: JSON.stringify(payload),
      format: rule.format,
      target: rule.webhook,
      state: ALERT_STATES.pending,
      attempts: 0,
      next_attempt_at: now,
      last_error: null,
      created_at: now,
      delivered_at: null,
    })
    .onConflict((oc) => oc.columns(['run_id', 'kind', 'rule']).doNothing())
    .execute();
}

/** The state of the job's latest earlier run that ended succeeded, failed or timed out. */
async function previousOutcome(trx: Q, run: RunRow): Promise<string | null> {
  const row = await trx
    .selectFrom('runs')
    .select('state')
    .where('project', '=', run.project)
    .where('job', '=', run.job)
    .where('id', '!=', run.id)
    .where('state', 'in', ['succeeded', 'failed', 'timed_out'])
    .orderBy('finished_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.state ?? null;
}

/** Called inside the transaction that made `run` terminal (`run` as it now is). */
export async function enqueueRunEnded(trx: Q, run: RunRow, spec: CompiledJob, now: number): Promise<void> {
  const rules = rulesOf(spec);
  if (rules.length === 0) return;
  const previous = rules.some((r) => r.on === 'recovery') ? await previousOutcome(trx, run) : null;
  for (const intent of alertsOnRunEnd(rules, run.state as RunState, previous)) {
    await enqueue(trx, run, intent.rule, payloadOf(run, intent.kind), now);
  }
}

/** A pipeline run as its end is committed (`state` terminal). */
export interface EndedPipelineRun {
  readonly id: string;
  readonly project: string;
  readonly pipeline: string;
  readonly state: string;
  readonly reason: string | null;
  readonly scheduled_for: number;
}

/**
 * Called inside the transaction that ended a pipeline run: its `notify` rules (`failure`, `recovery`; `late` and
 * `metric` are rules of the steps' jobs) against the pipeline run's outcome, the previous one being that of the
 * pipeline's latest earlier run that succeeded or failed.
 */
export async function enqueuePipelineEnded(trx: Q, pr: EndedPipelineRun, rules: readonly NotifyRule[], now: number): Promise<number> {
  if (rules.length === 0) return 0;
  let previous: string | null = null;
  if (rules.some((r) => r.on === 'recovery')) {
    const row = await trx
      .selectFrom('pipeline_runs')
      .select('state')
      .where('project', '=', pr.project)
      .where('pipeline', '=', pr.pipeline)
      .where('id', '!=', pr.id)
      .where('state', 'in', ['succeeded', 'failed'])
      .orderBy('finished_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    previous = row?.state ?? null;
  }
  const intents = alertsOnRunEnd(rules, pr.state as RunState, previous);
  for (const intent of intents) {
    const payload: AlertPayload = {
      event: intent.kind,
      project: pr.project,
      job: pr.pipeline,
      pipeline: pr.pipeline,
      run_id: pr.id,
      state: pr.state,
      reason: pr.reason,
      reason_code: null,
      exit_code: null,
      attempt: 1,
      scheduled_for: new Date(Number(pr.scheduled_for)).toISOString(),
    };
    await enqueue(trx, { id: pr.id, project: pr.project, job: pr.pipeline }, intent.rule, payload, now);
  }
  return intents.length;
}

/**
 * Called inside the transaction that stores an attempt's metrics, once its end is applied (the alert shows
 * the run's state after it). `run` is the row as it was before; it is read again only when a metric crossed.
 */
export async function enqueueMetricAlerts(ctx: Ctx, trx: Q, run: RunRow, attempt: number, metrics: readonly MetricValue[], now: number): Promise<void> {
  if (metrics.length === 0) return;
  const spec = (await ctx.manifestOf(run.deployment_id, trx)).jobs[run.job];
  if (!spec) return;
  const crossings = metricCrossings(rulesOf(spec), metrics);
  if (crossings.length === 0) return;
  // The attempt that reported the metric, even when the run is already queued for its next one.
  const ended = { ...((await getRun(trx, run.id)) ?? run), attempt };
  for (const { rule, value } of crossings) {
    await enqueue(trx, ended, rule, payloadOf(ended, ALERT_KINDS.metric, { metric: { name: rule.metric, value, above: rule.above, below: rule.below } }), now);
  }
}

/** Active scheduled runs examined per pass of the late check (oldest ticks first). */
const LATE_SCAN_LIMIT = 5000;

/**
 * One pass of the late check: scheduled runs still queued (or not ended) past a `late` deadline after their
 * tick get one alert per rule and kind. Safe to run on several replicas: the outbox's unique key keeps one.
 */
export async function checkLate(ctx: Ctx, seen: Set<string>): Promise<number> {
  const now = ctx.now();
  // Only jobs with a `late` rule in an active deployment are looked at; most projects have none, and then
  // this pass costs one small query.
  const watched = new Map<string, Set<string>>();
  for (const d of await ctx.db.kysely.selectFrom('deployments').select(['id', 'project']).where('active', '=', 1).execute()) {
    for (const spec of Object.values((await ctx.manifestOf(d.id)).jobs)) {
      if (rulesOf(spec).some((r) => r.on === 'late')) watched.set(d.project, (watched.get(d.project) ?? new Set()).add(spec.name));
    }
  }
  if (watched.size === 0) return 0;
  const jobs = [...new Set([...watched.values()].flatMap((s) => [...s]))];
  const runs = (
    await ctx.db.kysely
      .selectFrom('runs')
      .selectAll()
      .where('state', 'in', ['queued', 'running'])
      .where('trigger', '=', 'schedule')
      .where('project', 'in', [...watched.keys()])
      .where('job', 'in', jobs)
      .orderBy('scheduled_for')
      .limit(LATE_SCAN_LIMIT)
      .execute()
  ).filter((r) => watched.get(r.project)?.has(r.job));
  const due: { run: RunRow; rule: NotifyRule; kind: AlertKind; deadline: number }[] = [];
  for (const run of runs) {
    if (run.scheduled_for === null) continue;
    const spec = (await ctx.manifestOf(run.deployment_id)).jobs[run.job];
    if (!spec) continue;
    const scheduledFor = Number(run.scheduled_for);
    for (const intent of lateAlerts(rulesOf(spec), { scheduledFor, started: run.started_at !== null }, now)) {
      const key = `${run.id}/${intent.kind}/${intent.rule.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const rule = intent.rule;
      const after = rule.on === 'late' ? (intent.kind === ALERT_KINDS.late_start ? rule.startMs : rule.finishMs) ?? 0 : 0;
      due.push({ run, rule, kind: intent.kind, deadline: scheduledFor + after });
    }
  }
  if (due.length === 0) return 0;
  try {
    await ctx.db.tx(async (trx) => {
      for (const d of due) {
        const how = d.kind === ALERT_KINDS.late_start ? 'not started' : 'not finished';
        const reason = `${how} ${Math.round((now - Number(d.run.scheduled_for)) / 1000)}s after its tick (${d.rule.id})`;
        await enqueue(trx, d.run, d.rule, payloadOf(d.run, d.kind, { reason, deadline: new Date(d.deadline).toISOString() }), now);
      }
    });
  } catch (err) {
    // Nothing was written: the next pass tries these again.
    for (const d of due) seen.delete(`${d.run.id}/${d.kind}/${d.rule.id}`);
    throw err;
  }
  return due.length;
}

/** The late check, every `everyMs`. */
export class LateCheck {
  private readonly loop: Loop;
  /** Alerts this process already enqueued (or found enqueued): not looked at again. Bounded by clearing. */
  private readonly seen = new Set<string>();

  constructor(
    private readonly ctx: Ctx,
    onError: (err: unknown) => void,
    /** Told when a pass enqueued alerts. */
    private readonly onEnqueued: () => void = () => {},
    everyMs = 1000,
  ) {
    this.loop = new Loop({
      pass: async () => {
        if (this.seen.size > 100_000) this.seen.clear();
        if ((await checkLate(this.ctx, this.seen)) > 0) this.onEnqueued();
      },
      everyMs,
      onError,
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Stops; resolves when the pass in flight has finished. */
  stop(): Promise<void> {
    return this.loop.stop();
  }
}
