/** Queries over runs, attempts, logs and outputs. Callers pass the handle: the database or a transaction. */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { RunState } from '../model/run-state.js';
import type { AttemptsTable, Database, RunsTable } from './schema.js';
export { maxLogSeq, readLogLines, type LogLineRow } from './logs.js';
import { executeRows, type RowsStatement } from './bulk.js';

export type Q = Kysely<Database>;
export type RunRow = Selectable<RunsTable>;
export type AttemptRow = Selectable<AttemptsTable>;

export async function getRun(q: Q, id: string): Promise<RunRow | undefined> {
  return q.selectFrom('runs').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface RunFilter {
  project?: string;
  job?: string;
  states?: readonly RunState[];
  trigger?: string;
  limit: number;
  /** Keyset pagination: runs created strictly before this (created_at, id). */
  before?: { createdAt: number; id: string };
  since?: number;
  until?: number;
}

export async function listRuns(q: Q, f: RunFilter): Promise<RunRow[]> {
  return runsQuery(q, f).execute();
}

/** The query behind listRuns, unexecuted: tests explain its plan (each filter must be an index range). */
export function runsQuery(q: Q, f: RunFilter) {
  let query = q.selectFrom('runs').selectAll();
  if (f.project) query = query.where('project', '=', f.project);
  if (f.job) query = query.where('job', '=', f.job);
  if (f.states && f.states.length > 0) query = query.where('state', 'in', [...f.states]);
  if (f.trigger) query = query.where('trigger', '=', f.trigger);
  if (f.since !== undefined) query = query.where('created_at', '>=', f.since);
  if (f.until !== undefined) query = query.where('created_at', '<', f.until);
  if (f.before) {
    const b = f.before;
    // A row-value comparison, not (a < x OR (a = x AND b < y)): both dialects turn it into an index range,
    // so a page deep in a million runs costs what the first one does.
    query = query.where((eb) => eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(b.createdAt, b.id)));
  }
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit);
}

export async function activeRunsOfJob(q: Q, project: string, job: string): Promise<RunRow[]> {
  return q
    .selectFrom('runs')
    .selectAll()
    .where('project', '=', project)
    .where('job', '=', job)
    .where('state', 'in', ['queued', 'running'])
    .orderBy('created_at')
    .execute();
}

/** Queued runs whose time has come, oldest first. One indexed range scan per pool, however long the queue. */
export async function dueQueuedRuns(q: Q, pools: readonly string[], now: number, limit: number, skipLocked = false): Promise<RunRow[]> {
  const all: RunRow[] = [];
  for (const pool of pools) {
    all.push(
      ...(await q
        .selectFrom('runs')
        .selectAll()
        .where('state', '=', 'queued')
        .where('pool', '=', pool)
        .where('not_before', '<=', now)
        .orderBy('not_before')
        .limit(limit)
        // PostgreSQL: rows another control plane is claiming are locked; take the next ones instead of waiting.
        .$if(skipLocked, (qb) => qb.forUpdate().skipLocked())
        .execute()),
    );
  }
  if (pools.length > 1) all.sort((x, y) => Number(x.not_before) - Number(y.not_before) || Number(x.created_at) - Number(y.created_at));
  return all.slice(0, limit);
}

/** Whether any run of `pools` is queued and due: one indexed probe, outside any transaction. */
export async function anyDueQueued(q: Q, pools: readonly string[], now: number): Promise<boolean> {
  const row = await q.selectFrom('runs').select('id').where('state', '=', 'queued').where('pool', 'in', [...pools]).where('not_before', '<=', now).limit(1).executeTakeFirst();
  return row !== undefined;
}

/** The earliest moment after `now` at which a queued run (a retry waiting out its delay) becomes due. */
export async function nextQueuedNotBefore(q: Q, now: number): Promise<number | null> {
  const row = await q.selectFrom('runs').select((eb) => eb.fn.min('not_before').as('t')).where('state', '=', 'queued').where('not_before', '>', now).executeTakeFirst();
  return row?.t == null ? null : Number(row.t);
}

export async function runningCountByPool(q: Q): Promise<Map<string, number>> {
  const rows = await q
    .selectFrom('runs')
    .select(['pool', (eb) => eb.fn.countAll<number>().as('n')])
    .where('state', '=', 'running')
    .groupBy('pool')
    .execute();
  return new Map(rows.map((r) => [r.pool, Number(r.n)]));
}

export async function getAttempt(q: Q, runId: string, number: number, forUpdate = false): Promise<AttemptRow | undefined> {
  return q.selectFrom('attempts').selectAll().where('run_id', '=', runId).where('number', '=', number).$if(forUpdate, (qb) => qb.forUpdate()).executeTakeFirst();
}

export async function listAttempts(q: Q, runId: string): Promise<AttemptRow[]> {
  return q.selectFrom('attempts').selectAll().where('run_id', '=', runId).orderBy('number').execute();
}

export async function expiredAttempts(q: Q, now: number, skipLocked = false): Promise<AttemptRow[]> {
  return q.selectFrom('attempts').selectAll().where('state', '=', 'running').where('lease_expires_at', '<', now).$if(skipLocked, (qb) => qb.forUpdate().skipLocked()).execute();
}

/**
 * PostgreSQL: a transaction-scoped advisory lock on `key`, held until commit. Claims take one per limited pool
 * and per job, so two control planes never both see room in a pool, or both start runs of a `queue` job.
 */
export async function lockKey(q: Q, key: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext(${key}))`.execute(q);
}

export async function liveAttemptsOfWorker(q: Q, workerId: string): Promise<AttemptRow[]> {
  return q.selectFrom('attempts').selectAll().where('state', '=', 'running').where('worker_id', '=', workerId).execute();
}

/** Every column of runs, in insert order. The type check below fails to compile when a column is not listed. */
const RUN_COLUMNS = [
  'id', 'project', 'job', 'deployment_id', 'bundle_hash', 'state', 'trigger', 'attempt', 'params_json', 'scheduled_for', 'schedule_id',
  'pool', 'serial', 'cancel_requested', 'rerun_of', 'created_at', 'not_before', 'started_at', 'finished_at', 'exit_code', 'reason', 'reason_code', 'log_seq', 'resources_json',
] as const satisfies readonly (keyof RunRow)[];
const everyRunColumn: [Exclude<keyof RunRow, (typeof RUN_COLUMNS)[number]>] extends [never] ? true : never = true;
void everyRunColumn;
/** Inserts a new run row: the one-row case of insertRunRows (its SQL text is built once, not per run). */
export async function insertRunRow(q: Q, row: RunRow): Promise<void> {
  await insertRunRows(q, [row]);
}

/** Rows per statement in insertRunRows: 24 columns each, well below SQLite's (32,766) and PostgreSQL's (65,535) limits on bound parameters. */
const RUN_ROWS_PER_STATEMENT = 500;
const INSERT_RUNS: RowsStatement = { name: 'insert runs', head: `insert into runs (${RUN_COLUMNS.join(', ')}) values`, row: `(${RUN_COLUMNS.map(() => '?').join(', ')})`, tail: '' };

/**
 * Inserts new run rows, several per statement: the scheduler's multi-row variant of insertRunRow, for the
 * thousands of runs created at one minute boundary (one statement per run cost more than the insert itself).
 */
export async function insertRunRows(q: Q, rows: readonly RunRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += RUN_ROWS_PER_STATEMENT) {
    const chunk = rows.slice(i, i + RUN_ROWS_PER_STATEMENT);
    const params: unknown[] = [];
    for (const row of chunk) for (const c of RUN_COLUMNS) params.push(row[c]);
    await executeRows(q, INSERT_RUNS, chunk.length, params);
  }
}
