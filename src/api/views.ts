/**
 * Rows as the API returns them. The shapes are the contract's (src/api/contract/): each builder is typed by
 * the schema's inferred type, so a field missing or misspelt here does not compile. Field names are part of
 * the user contract (DESIGN.md).
 */
import type { AttemptRow, LogLineRow, RunRow } from '../store/runs.js';
import type { DeploymentRow } from '../control/deployments.js';
import type { CompiledJob } from '../model/job.js';
import type { AttemptView, DeploymentView, JobView, LogLineView, RunView } from './contract/index.js';

export type { AttemptView, DeploymentView, JobView, LogLineView, RunView };

export function iso(ms: number | bigint | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(Number(ms)).toISOString();
}

export function runView(r: RunRow): RunView {
  return {
    id: r.id,
    project: r.project,
    job: r.job,
    state: r.state as RunView['state'],
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
    resources: runResources(r),
  };
}

function runResources(r: RunRow): RunView['resources'] {
  if (!r.resources_json) return null;
  const o = JSON.parse(r.resources_json) as { cpu?: number; memoryBytes?: number; gpu?: number };
  return { ...(o.cpu !== undefined ? { cpu: o.cpu } : {}), ...(o.memoryBytes !== undefined ? { memory_bytes: o.memoryBytes } : {}), ...(o.gpu !== undefined ? { gpu: o.gpu } : {}) };
}

export function attemptView(a: AttemptRow): AttemptView {
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
    env_image: a.env_image_json ? (JSON.parse(a.env_image_json) as { ref: string; digest: string }) : null,
    network: a.network_json ? (JSON.parse(a.network_json) as NonNullable<AttemptView['network']>) : null,
    network_waiting: a.network_waiting ?? null,
    service_up_at: iso(a.service_up_at ?? null),
  };
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
  return { seq: Number(l.seq), attempt: l.attempt, ts: isoOf(Number(l.ts)), stream: l.stream as LogLineView['stream'], line: l.line };
}

/** One line of the live stream as NDJSON text: `{"type":"line",...logLineView}`, built without an object per line. */
export function logLineEvent(l: LogLineRow): string {
  return `{"type":"line","seq":${Number(l.seq)},"attempt":${l.attempt},"ts":"${isoOf(Number(l.ts))}","stream":"${l.stream}","line":${JSON.stringify(l.line)}}`;
}

export function deploymentView(d: DeploymentRow): DeploymentView {
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

/** A job of an active deployment as the API shows it. */
export function jobView(project: string, version: number, j: CompiledJob): JobView {
  return {
    project,
    name: j.name,
    description: j.description,
    schedule: j.schedule as unknown as JobView['schedule'],
    params: j.params as unknown as JobView['params'],
    pool: j.pool,
    resources: { cpu: j.resources.cpu, memory_bytes: j.resources.memoryBytes, gpu: j.resources.gpu },
    environment: j.environment,
    timeout_ms: j.timeoutMs,
    retries: j.retries.max,
    deployment_version: version,
  };
}
