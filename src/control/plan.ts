/**
 * What a deploy changes, compared with the active version: pure, from two compiled manifests, the names of
 * the secrets that are set (or null when they could not be checked) and `now` (for next fire times).
 */
import type { CompiledJob, CompiledManifest, CompiledSchedule, ParamSpec, Resources } from '../model/job.js';
import { nextFire, parseCron } from '../model/cron/index.js';

export interface ScheduleChange {
  readonly job: string;
  readonly before: { cron: string; timezone: string } | null;
  readonly after: { cron: string; timezone: string } | null;
  /** The next fire instants under the new schedule (UTC ISO-8601); empty when the schedule goes away. */
  readonly next: readonly string[];
}

export interface ParamChange {
  readonly job: string;
  readonly param: string;
  readonly before: ParamSpec | null;
  readonly after: ParamSpec | null;
}

export interface ResourceChange {
  readonly job: string;
  readonly before: Resources;
  readonly after: Resources;
}

export interface DeployPlan {
  readonly project: string;
  /** The active version it is compared with; null for a first deploy. */
  readonly active_version: number | null;
  readonly jobs_added: readonly string[];
  readonly jobs_removed: readonly string[];
  /** Jobs in both whose definition changed in any way (command, env, retries, schedule…). */
  readonly jobs_changed: readonly string[];
  readonly schedule_changes: readonly ScheduleChange[];
  readonly param_changes: readonly ParamChange[];
  readonly resource_changes: readonly ResourceChange[];
  /** Secrets the manifest references that are not set; null when they could not be checked. */
  readonly secrets_missing: readonly string[] | null;
  /** Why secrets could not be checked, when they could not. */
  readonly secrets_note: string | null;
  /** Jobs no live worker of their pool can run, and why (docs/places.md); absent when workers could not be listed. */
  readonly placement_warnings?: readonly { job: string; message: string }[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function schedKey(s: CompiledSchedule | null): { cron: string; timezone: string } | null {
  return s ? { cron: s.cron, timezone: s.timezone } : null;
}

function nextTimes(s: CompiledSchedule, now: number, count: number): string[] {
  const parsed = parseCron(s.cron);
  if (!parsed.ok) return [];
  const out: string[] = [];
  let t = now;
  for (let i = 0; i < count; i++) {
    const n = nextFire(parsed.cron, s.timezone, t);
    if (n === null) break;
    out.push(new Date(n).toISOString());
    t = n;
  }
  return out;
}

export function planDeploy(
  before: CompiledManifest | null,
  activeVersion: number | null,
  after: CompiledManifest,
  secrets: { names: readonly string[] } | { names: null; reason: string },
  now: number,
): DeployPlan {
  const old: Readonly<Record<string, CompiledJob>> = before?.jobs ?? {};
  const added = Object.keys(after.jobs).filter((j) => !(j in old)).sort();
  const removed = Object.keys(old).filter((j) => !(j in after.jobs)).sort();
  const changed: string[] = [];
  const schedules: ScheduleChange[] = [];
  const params: ParamChange[] = [];
  const resources: ResourceChange[] = [];
  for (const name of [...new Set([...Object.keys(old), ...Object.keys(after.jobs)])].sort()) {
    const a = old[name];
    const b = after.jobs[name];
    if (a && b && !same(a, b)) changed.push(name);
    const sa = schedKey(a?.schedule ?? null);
    const sb = schedKey(b?.schedule ?? null);
    if (!same(sa, sb)) schedules.push({ job: name, before: sa, after: sb, next: b?.schedule ? nextTimes(b.schedule, now, 3) : [] });
    if (a && b) {
      for (const p of [...new Set([...Object.keys(a.params), ...Object.keys(b.params)])].sort()) {
        const pa = a.params[p] ?? null;
        const pb = b.params[p] ?? null;
        if (!same(pa, pb)) params.push({ job: name, param: p, before: pa, after: pb });
      }
      if (!same(a.resources, b.resources)) resources.push({ job: name, before: a.resources, after: b.resources });
    }
  }
  const referenced = [...new Set(Object.values(after.jobs).flatMap((j) => j.secrets))].sort();
  const missing = secrets.names === null ? null : referenced.filter((s) => !secrets.names.includes(s));
  return {
    project: after.project,
    active_version: activeVersion,
    jobs_added: added,
    jobs_removed: removed,
    jobs_changed: changed,
    schedule_changes: schedules,
    param_changes: params,
    resource_changes: resources,
    secrets_missing: missing,
    secrets_note: secrets.names === null ? (referenced.length === 0 ? null : `secrets could not be checked: ${secrets.reason}`) : null,
  };
}

function fmtSched(s: { cron: string; timezone: string } | null): string {
  return s ? `"${s.cron}" ${s.timezone}` : 'none';
}

function fmtParam(p: ParamSpec | null): string {
  if (!p) return 'none';
  return [p.type, p.required ? 'required' : null, p.default !== undefined ? `default ${JSON.stringify(p.default)}` : null, p.enum ? `one of ${p.enum.map((v) => JSON.stringify(v)).join('|')}` : null].filter(Boolean).join(', ');
}

function fmtRes(r: Resources): string {
  const parts = [r.cpu !== null ? `cpu ${r.cpu}` : null, r.memoryBytes !== null ? `memory ${r.memoryBytes} bytes` : null, r.gpu !== null ? `gpu ${r.gpu}` : null].filter(Boolean);
  return parts.length ? parts.join(', ') : 'none';
}

/** The plan as lines for a terminal. */
export function formatPlan(p: DeployPlan): string {
  const out: string[] = [];
  out.push(p.active_version === null ? `plan for project ${p.project}: first deploy` : `plan for project ${p.project} (compared with active v${p.active_version}):`);
  for (const j of p.jobs_added) out.push(`  + job ${j}`);
  for (const j of p.jobs_removed) out.push(`  - job ${j}`);
  for (const j of p.jobs_changed) out.push(`  ~ job ${j} changed`);
  for (const s of p.schedule_changes) {
    out.push(`  ~ schedule ${s.job}: ${fmtSched(s.before)} -> ${fmtSched(s.after)}`);
    if (s.next.length) out.push(`      next: ${s.next.join(', ')}`);
  }
  for (const c of p.param_changes) out.push(`  ~ param ${c.job}.${c.param}: ${fmtParam(c.before)} -> ${fmtParam(c.after)}`);
  for (const r of p.resource_changes) out.push(`  ~ resources ${r.job}: ${fmtRes(r.before)} -> ${fmtRes(r.after)}`);
  if (p.secrets_missing && p.secrets_missing.length) out.push(`  ! secrets referenced but not set: ${p.secrets_missing.join(', ')}`);
  if (p.secrets_note) out.push(`  ? ${p.secrets_note}`);
  for (const w of p.placement_warnings ?? []) out.push(`  ! job ${w.job}: ${w.message}`);
  if (out.length === 1) out.push('  no job changes');
  return out.join('\n') + '\n';
}
