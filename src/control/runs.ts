/** Creating, cancelling and rerunning runs. Every state change goes through model/run-state's `transition`. */
import { resolveParams } from '../manifest/index.js';
import type { CompiledJob, ParamValue, Resources } from '../model/job.js';
import { KairosError } from '../model/errors.js';
import { newId } from '../model/ids.js';
import type { RunState, Trigger } from '../model/run-state.js';
import { transitionRun } from '../store/transitions.js';
import { getRun, insertRunRow, type Q, type RunRow } from '../store/runs.js';
import type { Ctx } from './context.js';
import { copyInputPin } from './snapshots.js';
import { activeDeployment, activeDeployments, type DeploymentRow } from './deployments.js';

export interface CreateRunRequest {
  readonly id?: string;
  readonly project?: string;
  readonly job: string;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly trigger: Trigger;
  readonly scheduledFor?: number | null;
  readonly scheduleId?: string | null;
  readonly serial?: boolean;
  readonly rerunOf?: string | null;
  /** For this run alone (`kairos run --cpu/--memory/--gpu/--pool`): over the job's `resources` and `pool`. */
  readonly resources?: RunResources;
  readonly pool?: string;
}

/** Resources given for one run, over its job's. */
export interface RunResources {
  readonly cpu?: number;
  readonly memoryBytes?: number;
  readonly gpu?: number;
}

/** What a run needs: its job's resources with the run's own over them. */
export function effectiveResources(spec: CompiledJob, run: Pick<RunRow, 'resources_json'>): Resources {
  const own = run.resources_json ? (JSON.parse(run.resources_json) as RunResources) : {};
  return { cpu: own.cpu ?? spec.resources.cpu, memoryBytes: own.memoryBytes ?? spec.resources.memoryBytes, gpu: own.gpu ?? spec.resources.gpu };
}

/** The project a request means: the one named, or the only one deployed. */
export async function resolveProject(q: Q, project: string | undefined): Promise<DeploymentRow> {
  if (project) {
    const dep = await activeDeployment(q, project);
    if (!dep) throw new KairosError('not_found', `project "${project}" has no active deployment`);
    return dep;
  }
  const all = await activeDeployments(q);
  if (all.length === 1 && all[0]) return all[0];
  if (all.length === 0) throw new KairosError('not_found', 'nothing is deployed yet');
  throw new KairosError('invalid_input', `several projects are deployed (${all.map((d) => d.project).join(', ')}); name one with --project`);
}

/** resolveProject over the control plane's cached active deployments (no read per run created). */
export async function resolveProjectOf(ctx: Ctx, project: string | undefined): Promise<DeploymentRow> {
  const all = await ctx.deployments();
  if (project) {
    const dep = all.find((d) => d.project === project);
    if (!dep) throw new KairosError('not_found', `project "${project}" has no active deployment`);
    return dep;
  }
  if (all.length === 1 && all[0]) return all[0];
  if (all.length === 0) throw new KairosError('not_found', 'nothing is deployed yet');
  throw new KairosError('invalid_input', `several projects are deployed (${all.map((d) => d.project).join(', ')}); name one with --project`);
}

export async function jobOf(ctx: Ctx, dep: DeploymentRow, job: string, q: Q = ctx.db.kysely): Promise<CompiledJob> {
  const manifest = await ctx.manifestOf(dep.id, q);
  const spec = manifest.jobs[job];
  if (!spec) {
    const known = Object.values(manifest.jobs).filter((j) => j.builtin !== true).map((j) => j.name).sort();
    throw new KairosError('not_found', `project "${dep.project}" has no job "${job}"; jobs: ${known.join(', ') || '(none)'}`);
  }
  return spec;
}

/** Inserts a queued run (inside the caller's transaction). Parameters are validated before anything is written. */
export async function insertRun(
  trx: Q,
  dep: DeploymentRow,
  spec: CompiledJob,
  req: CreateRunRequest,
  values: Record<string, ParamValue>,
  now: number,
): Promise<RunRow> {
  const row = queuedRunRow(dep, spec, { ...req, id: req.id ?? newId(now) }, JSON.stringify(values), now);
  await insertRunRow(trx, row);
  return row;
}

/**
 * The row of a new queued run, without writing it: insertRun writes one; the scheduler creates the runs of a
 * minute boundary together (insertRunRows, several per statement). Every run has a logical time: its tick, the
 * original's for a rerun, or its creation for an ad-hoc run.
 */
export function queuedRunRow(dep: DeploymentRow, spec: CompiledJob, req: CreateRunRequest & { readonly id: string }, paramsJson: string, now: number): RunRow {
  return {
    id: req.id,
    project: dep.project,
    job: spec.name,
    deployment_id: dep.id,
    bundle_hash: dep.bundle_hash,
    state: 'queued',
    trigger: req.trigger,
    attempt: 1,
    params_json: paramsJson,
    scheduled_for: req.scheduledFor ?? now,
    schedule_id: req.scheduleId ?? null,
    pool: req.pool ?? spec.pool,
    serial: req.serial ? 1 : 0,
    cancel_requested: 0,
    rerun_of: req.rerunOf ?? null,
    created_at: now,
    not_before: now,
    started_at: null,
    finished_at: null,
    exit_code: null,
    reason: null,
    reason_code: null,
    log_seq: 0,
    resources_json: req.resources && Object.keys(req.resources).length > 0 ? JSON.stringify(req.resources) : null,
  };
}

export async function createRun(ctx: Ctx, req: CreateRunRequest): Promise<RunRow> {
  for (const [what, v] of [['job', req.job], ['project', req.project]] as const) {
    // eslint-disable-next-line no-control-regex -- control characters are what this refuses
    if (typeof v === 'string' && /[\u0000-\u001f\u007f]/.test(v)) throw new KairosError('invalid_input', `the ${what} name contains a control character (such as NUL); names are letters, digits, "-" and "_"`);
  }
  const dep = await resolveProjectOf(ctx, req.project);
  const spec = await jobOf(ctx, dep, req.job);
  const resolved = resolveParams(spec, req.params ?? {});
  if (!resolved.ok) throw new KairosError('invalid_params', resolved.errors.join('; '), { errors: resolved.errors });
  const row = await ctx.db.tx((trx) => insertRun(trx, dep, spec, req, resolved.values, ctx.now()));
  ctx.bus.emit('run', { id: row.id, state: row.state });
  ctx.bus.emit('work');
  return row;
}

export async function requireRun(q: Q, id: string): Promise<RunRow> {
  const run = await getRun(q, id);
  if (!run) throw new KairosError('not_found', `run ${id} not found`);
  return run;
}

/** Applies a cancel inside a transaction; returns whether the worker must be told. */
export async function cancelInTx(trx: Q, run: RunRow, now: number, why: string): Promise<{ state: RunState; signal: boolean }> {
  // A queued run ends now; a running one is flagged (the worker ends it). Either only while the run is still
  // in the state read: on PostgreSQL a worker's finish may have ended it meanwhile.
  const t = await transitionRun(trx, run, { kind: 'cancel' }, now, (t) => (t.next.state === 'cancelled' ? { finished_at: now, reason: why, reason_code: 'cancelled' } : { reason: why }));
  if (!t || !t.changed) return { state: run.state, signal: false };
  return { state: t.next.state, signal: t.effects.some((e) => e.kind === 'signal_cancel') };
}

/** Cancels a run. Idempotent: cancelling a finished or already-cancelling run changes nothing. */
export async function cancelRun(ctx: Ctx, id: string, why = 'cancelled by user'): Promise<RunRow> {
  const result = await ctx.db.tx(async (trx) => {
    const run = await requireRun(trx, id);
    return cancelInTx(trx, run, ctx.now(), why);
  });
  if (result.signal) ctx.bus.emit('cancel', { runId: id });
  if (result.state === 'cancelled') ctx.bus.emit('run', { id, state: 'cancelled' });
  return requireRun(ctx.db.kysely, id);
}

/** A new run repeating an earlier one exactly: same deployment (bundle), parameters, logical time and inputs. */
export async function rerun(ctx: Ctx, id: string): Promise<RunRow> {
  const original = await requireRun(ctx.db.kysely, id);
  const dep = await ctx.db.kysely.selectFrom('deployments').selectAll().where('id', '=', original.deployment_id).executeTakeFirstOrThrow();
  const spec = await jobOf(ctx, dep, original.job);
  const values = JSON.parse(original.params_json) as Record<string, ParamValue>;
  const row = await ctx.db.tx(async (trx) => {
    const created = await insertRun(trx, dep, spec, {
      job: original.job,
      trigger: 'rerun',
      scheduledFor: original.scheduled_for,
      rerunOf: original.id,
      // What was given for the original alone is given again.
      pool: original.pool,
      ...(original.resources_json ? { resources: JSON.parse(original.resources_json) as RunResources } : {}),
    }, values, ctx.now());
    // The same inputs, byte for byte, even if `latest` has moved since.
    await copyInputPin(trx, original.id, created.id);
    return created;
  });
  ctx.bus.emit('run', { id: row.id, state: row.state });
  ctx.bus.emit('work');
  return row;
}
