/**
 * GET /api/v1/jobs/{project}/{job}/metrics: each metric a job reports, one point per run (the last value the
 * run reported), placed at the run's logical time (`scheduled_for`: its tick, the original's for a rerun, its
 * creation for an ad-hoc run), oldest first. Each point carries what the dashboard splits and filters series
 * by (trigger, parameters); the answer carries the thresholds of the job's `notify` metric rules.
 *
 * Bounded: the newest `runs` runs by logical time within [from, to], read by one range scan of the
 * runs_job_logical index (migration 0009), then their metrics by the metrics_run index.
 */
import type { Context } from 'hono';
import type { Kysely } from 'kysely';
import { KairosError } from '../model/errors.js';
import { parseInstant } from '../model/instant.js';
import { TRIGGERS, type Trigger } from '../model/run-state.js';
import type { CompiledJob } from '../model/job.js';
import type { Database } from '../store/schema.js';
import { iso } from './views.js';

export interface MetricThreshold {
  metric: string;
  /** Where the rule was written, e.g. `jobs.train.notify[0]`. */
  rule: string;
  above: number | null;
  below: number | null;
}

/** The thresholds of a job's `notify: [{on: metric, …}]` rules, as the dashboard draws them. */
export function metricThresholds(job: CompiledJob | null): MetricThreshold[] {
  const out: MetricThreshold[] = [];
  for (const r of job?.notify ?? []) if (r.on === 'metric') out.push({ metric: r.metric, rule: r.id, above: r.above, below: r.below });
  return out;
}

function instantQuery(c: Context, name: string): number | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === '') return undefined;
  const t = parseInstant(raw);
  if (t === null) throw new KairosError('invalid_input', `query parameter "${name}" must be an ISO-8601 instant such as 2026-01-01T00:00:00Z or a date, got "${raw}"`);
  return t;
}

function triggersQuery(c: Context): Trigger[] | undefined {
  const raw = c.req.query('trigger');
  if (raw === undefined || raw === '') return undefined;
  const list = raw.split(',').map((t) => t.trim());
  for (const t of list) {
    if (!(TRIGGERS as readonly string[]).includes(t)) throw new KairosError('invalid_input', `query parameter "trigger" must be a comma-separated list of ${TRIGGERS.join(', ')}, got "${t}"`);
  }
  return list as Trigger[];
}

type RunPick = { id: string; created_at: number; scheduled_for: number | null; state: string; trigger: string; params_json: string };

export interface LogicalRange {
  project: string;
  job: string;
  /** How many runs: the newest by logical time. */
  limit: number;
  /** Logical time, epoch ms, inclusive. */
  from?: number;
  to?: number;
  triggers?: readonly Trigger[];
}

/** The runs of a job with a logical time in range, newest first, one more than `limit`: one range scan of runs_job_logical. */
export function logicalRunsQuery(db: Kysely<Database>, r: LogicalRange) {
  let s = db.selectFrom('runs').select(['id', 'created_at', 'scheduled_for', 'state', 'trigger', 'params_json']).where('project', '=', r.project).where('job', '=', r.job).where('scheduled_for', 'is not', null);
  if (r.triggers) s = s.where('trigger', 'in', r.triggers);
  if (r.from !== undefined) s = s.where('scheduled_for', '>=', r.from);
  if (r.to !== undefined) s = s.where('scheduled_for', '<=', r.to);
  return s.orderBy('scheduled_for', 'desc').orderBy('id', 'desc').limit(r.limit + 1);
}

/**
 * The newest `limit` runs of a job by logical time within the range, newest first, and whether more exist.
 * Runs made before ad-hoc runs had a logical time have none: they count at their creation (read from the
 * null entries of the same index, so an empty range scan on a database that has none).
 */
export async function runsByLogicalTime(db: Kysely<Database>, r: LogicalRange): Promise<{ runs: RunPick[]; truncated: boolean }> {
  const rows: RunPick[] = await logicalRunsQuery(db, r).execute();
  let legacy = db.selectFrom('runs').select(['id', 'created_at', 'scheduled_for', 'state', 'trigger', 'params_json']).where('project', '=', r.project).where('job', '=', r.job).where('scheduled_for', 'is', null);
  if (r.triggers) legacy = legacy.where('trigger', 'in', r.triggers);
  if (r.from !== undefined) legacy = legacy.where('created_at', '>=', r.from);
  if (r.to !== undefined) legacy = legacy.where('created_at', '<=', r.to);
  rows.push(...(await legacy.orderBy('created_at', 'desc').limit(r.limit + 1).execute()));
  const at = (x: RunPick) => Number(x.scheduled_for ?? x.created_at);
  rows.sort((a, b) => at(b) - at(a) || Number(b.created_at) - Number(a.created_at) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return { runs: rows.slice(0, r.limit), truncated: rows.length > r.limit };
}

export interface JobMetricsQuery {
  project: string;
  job: string;
  limit: number;
}

export async function jobMetrics(c: Context, db: Kysely<Database>, q: JobMetricsQuery, job: CompiledJob | null) {
  const from = instantQuery(c, 'from');
  const to = instantQuery(c, 'to');
  if (from !== undefined && to !== undefined && from > to) throw new KairosError('invalid_input', `query parameter "from" (${iso(from)}) is after "to" (${iso(to)})`);
  const triggers = triggersQuery(c);
  const { runs, truncated } = await runsByLogicalTime(db, { ...q, from, to, triggers });

  const byRun = new Map(runs.map((r) => [r.id, r]));
  // metrics_run (run_id, attempt) index; chunks keep the bound-variable count low on SQLite.
  const metricRows: { run_id: string; name: string; value: number; id: number }[] = [];
  const ids = runs.map((r) => r.id);
  for (let i = 0; i < ids.length; i += 200) {
    metricRows.push(...(await db.selectFrom('metrics').select(['run_id', 'name', 'value', 'id']).where('run_id', 'in', ids.slice(i, i + 200)).orderBy('id').execute()));
  }
  const series = new Map<string, Map<string, number>>();
  for (const m of metricRows) {
    let s = series.get(m.name);
    if (!s) series.set(m.name, (s = new Map()));
    s.set(m.run_id, Number(m.value)); // ordered by id: the last value a run reported wins
  }
  const params = new Map<string, unknown>();
  const paramsOf = (r: RunPick) => {
    if (!params.has(r.id)) params.set(r.id, JSON.parse(r.params_json) as unknown);
    return params.get(r.id);
  };
  const order = new Map(runs.map((r, i) => [r.id, i]));
  return {
    series: [...series.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([metric, points]) => ({
        name: metric,
        points: [...points.entries()]
          .sort(([a], [b]) => (order.get(b) ?? 0) - (order.get(a) ?? 0)) // oldest logical time first
          .map(([runId, value]) => {
            const r = byRun.get(runId) as RunPick;
            return { run_id: runId, created_at: iso(r.created_at), scheduled_for: iso(r.scheduled_for), state: r.state, trigger: r.trigger, params: paramsOf(r), value };
          }),
      })),
    thresholds: metricThresholds(job),
    window: { from: iso(from), to: iso(to), limit: q.limit, runs: runs.length, truncated },
  };
}
