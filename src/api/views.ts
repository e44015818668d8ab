/** The JSON shapes the API returns. Field names are part of the user contract (DESIGN.md). */
import type { AttemptRow, LogLineRow, RunRow } from '../store/runs.js';
import type { DeploymentRow } from '../control/deployments.js';

export function iso(ms: number | bigint | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
}

export interface RunView {
  id: string;
  project: string;
  job: string;
  state: string;
  attempt: number;
  trigger: string;
  scheduled_for: string | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  reason: string | null;
  /** Why it ended (or why its last attempt ended, while a retry waits), as a stable code: docs/runs.md. */
  reason_code: string | null;
  params: Record<string, unknown>;
  pool: string;
  deployment_id: string;
  bundle_hash: string;
  rerun_of: string | null;
  cancel_requested: boolean;
  /** The environment's content hash recorded by the latest attempt that ran in one (null: none). */
  env_hash?: string | null;
}

export function runView(r: RunRow): RunView {
  return {
    id: r.id,
    project: r.project,
    job: r.job,
    state: r.state,
    attempt: r.attempt,
    trigger: r.trigger,
    scheduled_for: iso(r.scheduled_for),
    created_at: iso(r.created_at),
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
    exit_code: r.exit_code,
    reason: r.reason,
    reason_code: r.reason_code ?? null,
    params: JSON.parse(r.params_json) as Record<string, unknown>,
    pool: r.pool,
    deployment_id: r.deployment_id,
    bundle_hash: r.bundle_hash,
    rerun_of: r.rerun_of,
    cancel_requested: r.cancel_requested === 1,
  };
}

export function attemptView(a: AttemptRow) {
  return {
    number: a.number,
    state: a.state,
    worker_id: a.worker_id,
    claimed_at: iso(a.claimed_at),
    started_at: iso(a.started_at),
    finished_at: iso(a.finished_at),
    exit_code: a.exit_code,
    reason: a.reason,
    reason_code: a.reason_code ?? null,
    pid: a.pid,
    env_hash: a.env_hash ?? null,
    env_packages: a.env_packages_json ? (JSON.parse(a.env_packages_json) as { name: string; version: string }[]) : null,
  };
}

export interface LogLineView {
  seq: number;
  attempt: number;
  ts: string;
  stream: string;
  line: string;
}

// Consecutive lines mostly share their millisecond: format each timestamp once.
let lastTs = NaN;
let lastIso = '';
function isoOf(ts: number): string {
  if (ts !== lastTs) {
    lastTs = ts;
    lastIso = new Date(ts).toISOString();
  }
  return lastIso;
}

export function logLineView(l: LogLineRow): LogLineView {
  return { seq: Number(l.seq), attempt: l.attempt, ts: isoOf(Number(l.ts)), stream: l.stream, line: l.line };
}

/** One line of the live stream as NDJSON text: `{"type":"line",...logLineView}`, built without an object per line. */
export function logLineEvent(l: LogLineRow): string {
  return `{"type":"line","seq":${Number(l.seq)},"attempt":${l.attempt},"ts":"${isoOf(Number(l.ts))}","stream":"${l.stream}","line":${JSON.stringify(l.line)}}`;
}

export function deploymentView(d: DeploymentRow) {
  return {
    id: d.id,
    project: d.project,
    version: d.version,
    bundle_hash: d.bundle_hash,
    created_at: iso(d.created_at),
    active: d.active === 1,
    source: d.source,
    deployed_by: d.deployed_by ?? null,
    git_commit: d.git_commit ?? null,
    git_dirty: d.git_dirty === null || d.git_dirty === undefined ? null : d.git_dirty === 1,
  };
}
