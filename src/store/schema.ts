/** Table types for the query layer. Times are epoch milliseconds (bigint), booleans 0/1, JSON as text. */
import type { Generated } from 'kysely';
import type { ReasonCode } from '../model/reasons.js';
import type { AttemptState, RunState } from '../model/run-state.js';

export interface DeploymentsTable {
  id: string;
  project: string;
  version: number;
  bundle_hash: string;
  manifest_json: string;
  created_at: number;
  active: number;
  source: string;
  /** Token name, "bootstrap" (the server's --token) or "local"; null for versions deployed before 0003. */
  deployed_by: string | null;
  git_commit: string | null;
  /** 1 when the git checkout had uncommitted changes. */
  git_dirty: number | null;
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
  /** One of the run states; a CHECK constraint refuses anything else (0009). */
  state: RunState;
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
  /** Why it ended (or why its last attempt ended, while it waits for a retry), as a stable code (0010). */
  reason_code: ReasonCode | null;
  log_seq: number;
  /** Resources given for this run alone (`kairos run --cpu/--memory/--gpu`), JSON {cpu?, memoryBytes?, gpu?} (0012). */
  resources_json: string | null;
}

export interface AttemptsTable {
  run_id: string;
  number: number;
  /** `running` or how it ended; a CHECK constraint refuses anything else (0009). */
  state: AttemptState;
  worker_id: string;
  lease_token: string;
  lease_expires_at: number;
  claimed_at: number;
  started_at: number | null;
  finished_at: number | null;
  exit_code: number | null;
  reason: string | null;
  /** Why it ended, as a stable code (0010). */
  reason_code: ReasonCode | null;
  pid: number | null;
  proc_start: string | null;
  /** The environment's content hash (0004); null for `system` or before the environment was ready. */
  env_hash?: string | null;
  /** JSON list of {name, version}: every package the environment held (0004). */
  env_packages_json?: string | null;
  /** JSON {ref, digest}: the container image the attempt ran (0017); null when its environment is not an image. */
  env_image_json?: string | null;
  /** JSON list of the preflight's EndpointCheck (0015); null when the job needs no endpoint. */
  network_json?: string | null;
  /** What the attempt waits for (`network.on_failure: wait`) while it does (0015). */
  network_waiting?: string | null;
  /** When a service job's attempt first answered its health check (0021); null: never, or not a service. */
  service_up_at?: number | null;
}

/** A batch of one attempt's log lines (see src/store/logs.ts for the encoding). */
export interface LogChunksTable {
  run_id: string;
  first_seq: number;
  last_seq: number;
  attempt: number;
  count: number;
  ts0: number;
  /** Comma-separated deltas of each line's timestamp from the previous one ('' when all equal ts0). */
  ts_deltas: string;
  /** One letter per line: o stdout, e stderr, s system. */
  streams: string;
  /** Comma-separated seq deltas when the seqs are not consecutive; null when they are. */
  seqs: string | null;
  /** 0: lines joined by "\n" (a single line as is); 1: a JSON array of strings. */
  enc: number;
  lines: string;
  bytes: number;
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
  /** 0013: served as; null for rows written before. */
  content_type: string | null;
  /** 0013: 1 once the bytes are in the artifact store. */
  stored: Generated<number>;
}

/** A worker's latest check of one endpoint (0015). */
export interface WorkerEndpointsTable {
  worker_id: string;
  endpoint: string;
  result: string;
  latency_ms: number;
  detail: string | null;
  checked_at: number;
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
  /** Where it runs attempts: `local`, `slurm` (0012); null from older workers. */
  place?: string | null;
  /** What one attempt can get there, JSON of src/protocol/worker.ts placeOfferSchema (0012); null = not said. */
  offer_json?: string | null;
}

/** A secret's value sealed with the server's key (src/control/secrets.ts); never the plaintext. */
export interface SecretsTable {
  project: string;
  name: string;
  sealed: string;
  key_id: string;
  created_at: number;
  updated_at: number;
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
  log_chunks: LogChunksTable;
  metrics: MetricsTable;
  artifacts: ArtifactsTable;
  workers: WorkersTable;
  worker_endpoints: WorkerEndpointsTable;
  alerts: AlertsTable;
  secrets: SecretsTable;
  tokens: TokensTable;
  snapshot_versions: SnapshotVersionsTable;
  snapshot_files: SnapshotFilesTable;
  run_inputs: RunInputsTable;
  run_input_files: RunInputFilesTable;
  blob_candidates: BlobCandidatesTable;
  collected_runs: CollectedRunsTable;
  pypi_projects: PypiProjectsTable;
  pypi_files: PypiFilesTable;
  pypi_usage: PypiUsageTable;
  pipeline_runs: PipelineRunsTable;
  pipeline_steps: PipelineStepsTable;
}

/** A run of a pipeline (0019): the step runs it made are in pipeline_steps. */
export interface PipelineRunsTable {
  id: string;
  project: string;
  pipeline: string;
  deployment_id: string;
  /** running, succeeded, failed, cancelled, skipped (CHECK). */
  state: string;
  trigger: string;
  params_json: string;
  scheduled_for: number;
  schedule_id: string | null;
  rerun_of: string | null;
  cancel_requested: number;
  created_at: number;
  finished_at: number | null;
  reason: string | null;
}

export interface PipelineStepsTable {
  pipeline_run_id: string;
  step: string;
  item: number;
  item_value: string | null;
  run_id: string;
}

export interface TokensTable {
  id: string;
  name: string;
  /** sha256 of the token, hex. */
  hash: string;
  scope: string;
  project: string | null;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
  /** Comma-separated package-name prefixes a publish token is limited to (null: all). Since 0016. */
  packages?: string | null;
}

/** The package index (0016): one row per project, by PEP 503 normalized name. */
export interface PypiProjectsTable {
  name: string;
  display_name: string;
  created_at: number;
  serial: number;
}

/** One uploaded file. A deleted file keeps its row (deleted_at) so its filename is never reused. */
export interface PypiFilesTable {
  filename: string;
  project: string;
  version: string;
  kind: string;
  sha256: string;
  size: number;
  requires_python: string | null;
  metadata_sha256: string | null;
  yanked: number;
  yanked_reason: string | null;
  uploaded_at: number;
  uploaded_by: string;
  deleted_at: number | null;
}

/** An internal package version an attempt's environment held. */
export interface PypiUsageTable {
  run_id: string;
  attempt: number;
  project: string;
  version: string;
  recorded_at: number;
}

/** An immutable version of a named dataset; `version` is the SHA-256 of its file list (0014). */
export interface SnapshotVersionsTable {
  project: string;
  name: string;
  version: string;
  /** `file` (one file, fetched as KAIROS_INPUTS/NAME) or `dir` (a folder). */
  kind: string;
  files: number;
  size: number;
  created_at: number;
  created_by: string;
}

export interface SnapshotFilesTable {
  project: string;
  name: string;
  version: string;
  path: string;
  sha256: string;
  size: number;
}

/** What an attempt read (attempt 0: the run's pin, reused by retries and copied by reruns). */
export interface RunInputsTable {
  run_id: string;
  attempt: number;
  name: string;
  /** `snapshot` or `run`. */
  source: string;
  /** What the manifest said, e.g. `sales@latest`. */
  ref: string;
  /** The snapshot version, or the run id whose artifact was read. */
  resolved: string;
  kind: string;
  /** SHA-256 of the file list read. */
  digest: string;
  files: number;
  size: number;
}

export interface RunInputFilesTable {
  run_id: string;
  name: string;
  path: string;
  sha256: string;
  size: number;
}

export interface BlobCandidatesTable {
  sha256: string;
  since: number;
}

export interface CollectedRunsTable {
  run_id: string;
  collected_at: number;
}
