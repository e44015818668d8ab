/** Table types for the query layer. Times are epoch milliseconds (bigint), booleans 0/1, JSON as text. */
import type { Generated } from 'kysely';

export interface DeploymentsTable {
  id: string;
  project: string;
  version: number;
  bundle_hash: string;
  manifest_json: string;
  created_at: number;
  active: number;
  source: string;
}

export interface SchedulesTable {
  id: string;
  project: string;
  job: string;
  cron: string;
  timezone: string;
  catchup: string;
  concurrency: string;
  max_catchup: number;
  paused: number;
  /** 0 when the job no longer has a schedule in the active deployment. */
  active: number;
  /** Every tick at or before this instant has been decided. */
  cursor_at: number;
  next_fire_at: number | null;
  deployment_id: string;
  updated_at: number;
}

export interface TicksTable {
  schedule_id: string;
  instant: number;
  outcome: string;
  reason: string | null;
  run_id: string | null;
  lateness_ms: number;
  recorded_at: number;
}

export interface RunsTable {
  id: string;
  project: string;
  job: string;
  deployment_id: string;
  bundle_hash: string;
  state: string;
  trigger: string;
  attempt: number;
  params_json: string;
  scheduled_for: number | null;
  schedule_id: string | null;
  pool: string;
  /** 1: must not start while an older run of the same job is running (concurrency `queue`). */
  serial: number;
  cancel_requested: number;
  rerun_of: string | null;
  created_at: number;
  not_before: number;
  started_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  reason: string | null;
  log_seq: number;
}

export interface AttemptsTable {
  run_id: string;
  number: number;
  state: string;
  worker_id: string;
  lease_token: string;
  lease_expires_at: number;
  claimed_at: number;
  started_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  reason: string | null;
  pid: number | null;
  proc_start: string | null;
}

export interface LogLinesTable {
  run_id: string;
  seq: number;
  attempt: number;
  ts: number;
  stream: string;
  line: string;
}

export interface MetricsTable {
  id: Generated<number>;
  run_id: string;
  attempt: number;
  name: string;
  value: number;
  step: number | null;
  ts: number;
}

export interface ArtifactsTable {
  run_id: string;
  attempt: number;
  path: string;
  size: number;
  sha256: string;
}

export interface WorkersTable {
  id: string;
  host: string;
  pools_json: string;
  capacity: number;
  version: string;
  started_at: number;
  heartbeat_at: number;
  stopped_at: number | null;
}

/** The alerts outbox: written in the transaction that ends a run (or finds it late), delivered by a loop. */
export interface AlertsTable {
  id: string;
  project: string;
  job: string;
  run_id: string;
  rule: string;
  kind: string;
  payload_json: string;
  format: string;
  target: string;
  /** pending | delivered | failed */
  state: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface Database {
  deployments: DeploymentsTable;
  schedules: SchedulesTable;
  ticks: TicksTable;
  runs: RunsTable;
  attempts: AttemptsTable;
  log_lines: LogLinesTable;
  metrics: MetricsTable;
  artifacts: ArtifactsTable;
  workers: WorkersTable;
  alerts: AlertsTable;
}
