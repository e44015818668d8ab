/**
 * Pipeline runs on the control plane (docs/pipelines.md). A pipeline run is a row of `pipeline_runs`; each of
 * its steps is an ordinary run of its job (`runs`), linked by `pipeline_steps`. The driver (a Loop woken when
 * a run ends) advances every running pipeline run with the pure planner (src/model/pipeline.ts): it creates
 * the step runs whose needs succeeded, with the pipeline run's logical time, records skipped steps (reason
 * code `upstream_failed`) and ends the pipeline run. Step runs change state only through the run state
 * machine (cancelInTx → transitionRun); skipped step runs are born skipped.
 */
import { enqueuePipelineEnded } from './alerts.js';
import { resolveParams } from '../manifest/index.js';
import { KairosError } from '../model/errors.js';
import { newId } from '../model/ids.js';
import { fileListDigest, type FileEntry, type ResolvedInput } from '../model/inputs.js';
import type { CompiledJob, CompiledManifest, ParamSpec, ParamValue } from '../model/job.js';
import {
  isPipelineTerminal,
  itemFolder,
  pipelineScheduleJob,
  pipelineTransition,
  planPipeline,
  stepParams,
  type CompiledPipeline,
  type PipelineRunState,
  type PipelineValue,
  type StepRunView,
  type StepSummary,
} from '../model/pipeline.js';
import { isActive, type RunState, type Trigger } from '../model/run-state.js';
import { Loop } from '../lib/loop.js';
import { getRun, insertRunRow, type Q, type RunRow } from '../store/runs.js';
import type { Ctx } from './context.js';
import { activeDeployments, scheduleId, type DeploymentRow } from './deployments.js';
import { cancelInTx, insertRun, resolveProject } from './runs.js';
import { copyInputPin } from './snapshots.js';
import type { Selectable } from 'kysely';
import type { PipelineRunsTable } from '../store/schema.js';

export type PipelineRunRow = Selectable<PipelineRunsTable>;

export function pipelineOf(manifest: CompiledManifest, dep: Pick<DeploymentRow, 'project'>, name: string): CompiledPipeline {
  const p = manifest.pipelines?.[name];
  if (!p) {
    const known = Object.keys(manifest.pipelines ?? {}).sort();
    throw new KairosError('not_found', `project "${dep.project}" has no pipeline "${name}"; pipelines: ${known.join(', ') || '(none)'}`);
  }
  return p;
}

/** Whether `name` is a pipeline of the active deployment of `project` (or of the only one). */
export async function isPipelineName(ctx: Ctx, project: string | undefined, name: string): Promise<boolean> {
  try {
    const dep = await resolveProject(ctx.db.kysely, project);
    const m = await ctx.manifestOf(dep.id);
    return Object.hasOwn(m.pipelines ?? {}, name) && !Object.hasOwn(m.jobs, name);
  } catch {
    return false;
  }
}

// ── params ──

function splitList(raw: unknown): ParamValue[] | null {
  if (Array.isArray(raw)) return raw.every((v) => ['string', 'number', 'boolean'].includes(typeof v)) ? (raw as ParamValue[]) : null;
  if (typeof raw === 'string') return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return null;
}

/** A pipeline run's params: given values parsed by type (a `list` from an array or `a,b,c`), defaults applied. */
export function resolvePipelineParams(p: CompiledPipeline, given: Readonly<Record<string, unknown>>): { ok: true; values: Record<string, PipelineValue> } | { ok: false; errors: string[] } {
  const scalars: Record<string, ParamSpec> = {};
  const errors: string[] = [];
  const values: Record<string, PipelineValue> = {};
  for (const [name, spec] of Object.entries(p.params)) {
    if (spec.type !== 'list') {
      scalars[name] = { type: spec.type, required: spec.required, ...(spec.default !== undefined && !Array.isArray(spec.default) ? { default: spec.default as ParamValue } : {}), ...(spec.enum ? { enum: spec.enum } : {}) };
      continue;
    }
    const raw = given[name];
    if (raw === undefined) {
      if (spec.default !== undefined) values[name] = spec.default;
      else if (spec.required) errors.push(`param "${name}": required, but no value was given`);
      else values[name] = [];
      continue;
    }
    const list = splitList(raw);
    if (list === null) errors.push(`param "${name}": expected a list (a JSON array, or values separated by commas)`);
    else if (list.length > 10_000) errors.push(`param "${name}": at most 10000 items`);
    else values[name] = list;
  }
  const scalarGiven = Object.fromEntries(Object.entries(given).filter(([k]) => p.params[k]?.type !== 'list'));
  const r = resolveParams({ name: `pipeline ${p.name}`, params: scalars } as unknown as CompiledJob, scalarGiven);
  if (!r.ok) errors.push(...r.errors.map((e) => e.replace(`job "pipeline ${p.name}"`, `pipeline "${p.name}"`)));
  else Object.assign(values, r.values);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, values };
}

// ── creating ──

export interface CreatePipelineRunRequest {
  readonly project?: string;
  readonly pipeline: string;
  readonly params?: Readonly<Record<string, unknown>>;
  readonly trigger: Trigger;
  readonly scheduledFor?: number | null;
  readonly scheduleId?: string | null;
  readonly rerunOf?: string | null;
  readonly id?: string;
}

/** Inserts a running pipeline run (inside the caller's transaction); its steps are created by `advance`. */
export async function insertPipelineRun(trx: Q, dep: Pick<DeploymentRow, 'id' | 'project'>, p: CompiledPipeline, req: CreatePipelineRunRequest, values: Record<string, PipelineValue>, now: number): Promise<PipelineRunRow> {
  const row: PipelineRunRow = {
    id: req.id ?? newId(now),
    project: dep.project,
    pipeline: p.name,
    deployment_id: dep.id,
    state: 'running',
    trigger: req.trigger,
    params_json: JSON.stringify(values),
    scheduled_for: req.scheduledFor ?? now,
    schedule_id: req.scheduleId ?? null,
    rerun_of: req.rerunOf ?? null,
    cancel_requested: 0,
    created_at: now,
    finished_at: null,
    reason: null,
  };
  await trx.insertInto('pipeline_runs').values(row).execute();
  return row;
}

export async function createPipelineRun(ctx: Ctx, req: CreatePipelineRunRequest): Promise<PipelineRunRow> {
  const dep = await resolveProject(ctx.db.kysely, req.project);
  const p = pipelineOf(await ctx.manifestOf(dep.id), dep, req.pipeline);
  const resolved = resolvePipelineParams(p, req.params ?? {});
  if (!resolved.ok) throw new KairosError('invalid_params', resolved.errors.join('; '), { errors: resolved.errors });
  const row = await ctx.db.tx((trx) => insertPipelineRun(trx, dep, p, req, resolved.values, ctx.now()));
  ctx.bus.emit('pipelineWake');
  await advancePipelineRun(ctx, row.id);
  return requirePipelineRun(ctx.db.kysely, row.id);
}

export async function requirePipelineRun(q: Q, id: string): Promise<PipelineRunRow> {
  const row = await q.selectFrom('pipeline_runs').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new KairosError('not_found', `pipeline run ${id} not found`);
  return row;
}

// ── advancing ──

interface StepRow {
  step: string;
  item: number;
  item_value: string | null;
  run_id: string;
  state: RunState;
}

async function stepRows(q: Q, pipelineRunId: string): Promise<StepRow[]> {
  const rows = await q
    .selectFrom('pipeline_steps as s')
    .innerJoin('runs as r', 'r.id', 's.run_id')
    .select(['s.step', 's.item', 's.item_value', 's.run_id', 'r.state'])
    .where('s.pipeline_run_id', '=', pipelineRunId)
    .execute();
  return rows.map((r) => ({ ...r, item: Number(r.item) }));
}

function itemsOf(p: CompiledPipeline, values: Record<string, PipelineValue>): Record<string, readonly ParamValue[]> {
  const out: Record<string, readonly ParamValue[]> = {};
  for (const s of p.steps) {
    if (s.map === null) continue;
    const v = values[s.map];
    out[s.name] = Array.isArray(v) ? v : [];
  }
  return out;
}

interface Advanced {
  readonly created: string[];
  readonly ended: string[];
  readonly state: PipelineRunState | null;
}

/** One step of the planner for one pipeline run, in one transaction. */
export async function advancePipelineRun(ctx: Ctx, id: string): Promise<void> {
  const out = await ctx.db.tx(async (trx): Promise<Advanced> => {
    const none: Advanced = { created: [], ended: [], state: null };
    const pr = await trx.selectFrom('pipeline_runs').selectAll().where('id', '=', id).$if(ctx.db.dialect === 'postgres', (qb) => qb.forUpdate()).executeTakeFirst();
    if (!pr || isPipelineTerminal(pr.state)) return none;
    const now = ctx.now();
    const manifest = await ctx.manifestOf(pr.deployment_id, trx);
    const p = pipelineOf(manifest, pr, pr.pipeline);
    const dep = await trx.selectFrom('deployments').selectAll().where('id', '=', pr.deployment_id).executeTakeFirstOrThrow();
    const values = JSON.parse(pr.params_json) as Record<string, PipelineValue>;
    const items = itemsOf(p, values);
    let cancelRequested = pr.cancel_requested === 1;
    let rows = await stepRows(trx, id);
    const cancels: string[] = [];
    // Past its timeout: the live steps are cancelled and the pipeline run ends failed.
    const timedOut = p.timeoutMs !== null && now - Number(pr.created_at) > p.timeoutMs;
    if (timedOut && !cancelRequested) {
      await trx.updateTable('pipeline_runs').set({ cancel_requested: 1, reason: `timed out after ${p.timeoutMs}ms` }).where('id', '=', id).execute();
      cancelRequested = true;
      for (const r of rows.filter((x) => isActive(x.state))) {
        const run = await getRun(trx, r.run_id);
        if (run && (await cancelInTx(trx, run, now, `pipeline run ${id} timed out`)).signal) cancels.push(run.id);
      }
      rows = await stepRows(trx, id);
    }
    const views: StepRunView[] = rows.map((r) => ({ step: r.step, item: r.item, state: r.state }));
    const counts = Object.fromEntries(Object.entries(items).map(([k, v]) => [k, v.length]));
    const plan = planPipeline(p, views, counts, cancelRequested);
    const created: string[] = [];
    const ended: string[] = [];
    let finished: PipelineRunState | null = null;
    for (const a of plan.actions) {
      if (a.kind === 'create') {
        const step = p.steps.find((s) => s.name === a.step);
        const job = step ? manifest.jobs[step.job] : undefined;
        if (!step || !job) throw new KairosError('internal', `pipeline ${p.name}: step ${a.step} has no job in its deployment`);
        const item = a.item >= 0 ? (items[step.name]?.[a.item] ?? null) : null;
        const given = stepParams(step, Object.keys(job.params), values, item);
        const resolved = resolveParams(job, given);
        const runId = newId(now);
        if (!resolved.ok) {
          await insertBornEnded(trx, dep, job, pr, runId, `step ${step.name}: ${resolved.errors.join('; ')}`, null, now);
          ended.push(runId);
        } else {
          await insertRun(trx, dep, job, { id: runId, job: job.name, trigger: pr.trigger as Trigger, scheduledFor: Number(pr.scheduled_for) }, resolved.values, now);
          created.push(runId);
          // A rerun from a failure reads what the failed run read.
          if (pr.rerun_of !== null) {
            const old = await trx.selectFrom('pipeline_steps').select('run_id').where('pipeline_run_id', '=', pr.rerun_of).where('step', '=', step.name).where('item', '=', a.item).executeTakeFirst();
            if (old) await copyInputPin(trx, old.run_id, runId);
          }
        }
        await trx.insertInto('pipeline_steps').values({ pipeline_run_id: id, step: step.name, item: a.item, item_value: item === null ? null : String(item), run_id: runId }).execute();
      } else if (a.kind === 'skip') {
        const step = p.steps.find((s) => s.name === a.step);
        const job = step ? manifest.jobs[step.job] : undefined;
        if (!step || !job) continue;
        const runId = newId(now);
        await insertBornEnded(trx, dep, job, pr, runId, `upstream step ${a.upstream} did not succeed`, 'upstream_failed', now);
        await trx.insertInto('pipeline_steps').values({ pipeline_run_id: id, step: step.name, item: -1, item_value: null, run_id: runId }).execute();
        ended.push(runId);
      } else {
        if (!pipelineTransition('running', a.state)) continue;
        const reason = timedOut ? `timed out after ${p.timeoutMs}ms` : a.reason;
        const state: PipelineRunState = timedOut ? 'failed' : a.state;
        const upd = await trx.updateTable('pipeline_runs').set({ state, finished_at: now, reason }).where('id', '=', id).where('state', '=', 'running').executeTakeFirst();
        finished = state;
        // The pipeline's own `notify` rules, in the transaction that ends it (as a run's alerts are).
        if (Number(upd.numUpdatedRows) > 0) await enqueuePipelineEnded(trx, { ...pr, state, reason }, p.notify, now);
      }
    }
    for (const c of cancels) ctx.bus.emit('cancel', { runId: c });
    return { created, ended, state: finished };
  });
  for (const r of out.created) ctx.bus.emit('run', { id: r, state: 'queued' });
  for (const r of out.ended) ctx.bus.emit('run', { id: r, state: 'skipped' });
  if (out.created.length > 0) ctx.bus.emit('work');
  if (out.created.length > 0 || out.ended.length > 0 || out.state !== null) ctx.bus.emit('pipeline', { id, state: out.state ?? 'running' });
}

/** A step run that never ran: born `skipped` (terminal from birth, as the run state machine allows). */
async function insertBornEnded(trx: Q, dep: DeploymentRow, job: CompiledJob, pr: PipelineRunRow, runId: string, reason: string, code: 'upstream_failed' | null, now: number): Promise<void> {
  const row: RunRow = {
    id: runId,
    project: dep.project,
    job: job.name,
    deployment_id: dep.id,
    bundle_hash: dep.bundle_hash,
    state: 'skipped',
    trigger: pr.trigger,
    attempt: 1,
    params_json: '{}',
    scheduled_for: Number(pr.scheduled_for),
    schedule_id: null,
    pool: job.pool,
    serial: 0,
    cancel_requested: 0,
    rerun_of: null,
    created_at: now,
    not_before: now,
    started_at: null,
    finished_at: now,
    exit_code: null,
    reason,
    reason_code: code,
    log_seq: 0,
    resources_json: null,
  };
  await insertRunRow(trx, row);
}

/** Advances every running pipeline run; returns how many there were. */
export async function pipelinePass(ctx: Ctx): Promise<number> {
  const running = await ctx.db.kysely.selectFrom('pipeline_runs').select('id').where('state', '=', 'running').orderBy('created_at').limit(1000).execute();
  let firstError: unknown = null;
  for (const r of running) {
    try {
      await advancePipelineRun(ctx, r.id);
    } catch (err) {
      firstError ??= err;
    }
  }
  if (firstError !== null) throw firstError;
  return running.length;
}

/**
 * Advances pipeline runs when a run ends, and every second (timeouts, other control planes' runs). A run's end
 * wakes it only while a pipeline run is running: with none, the ends of ordinary runs (most of them) cost no
 * pass. A pipeline run made here says so (`pipelineWake`) before its first step can end.
 */
export class PipelineDriver {
  private readonly loop: Loop;
  /** The last pass found a running pipeline run, or one was made since. */
  private active = true;
  private made = 0;
  private readonly onRun = (e: { id: string; state: string }) => {
    if (this.active && e.state !== 'queued' && e.state !== 'running') this.loop.wake();
  };
  private readonly onPipeline = () => {
    this.made++;
    this.active = true;
    this.loop.wake();
  };

  constructor(
    private readonly ctx: Ctx,
    onError: (err: unknown) => void,
  ) {
    this.loop = new Loop({
      pass: async () => {
        const made = this.made;
        const running = await pipelinePass(this.ctx);
        if (running === 0 && this.made === made) this.active = false;
      },
      everyMs: 1000,
      wakeGapMs: 10,
      onError,
    });
  }

  start(): void {
    this.ctx.bus.on('run', this.onRun);
    this.ctx.bus.on('pipelineWake', this.onPipeline);
    this.loop.start();
  }

  async stop(): Promise<void> {
    this.ctx.bus.off('run', this.onRun);
    this.ctx.bus.off('pipelineWake', this.onPipeline);
    await this.loop.stop();
  }
}

// ── cancel and rerun ──

/** Cancels a pipeline run: no new step starts, every live step is cancelled; it ends `cancelled`. */
export async function cancelPipelineRun(ctx: Ctx, id: string): Promise<PipelineRunRow> {
  const signals = await ctx.db.tx(async (trx) => {
    const pr = await requirePipelineRun(trx, id);
    if (isPipelineTerminal(pr.state)) return [];
    const now = ctx.now();
    await trx.updateTable('pipeline_runs').set({ cancel_requested: 1 }).where('id', '=', id).where('state', '=', 'running').execute();
    const out: string[] = [];
    for (const r of (await stepRows(trx, id)).filter((x) => isActive(x.state))) {
      const run = await getRun(trx, r.run_id);
      if (!run) continue;
      const c = await cancelInTx(trx, run, now, `pipeline run ${id} cancelled`);
      if (c.signal) out.push(run.id);
      if (c.state === 'cancelled') ctx.bus.emit('run', { id: run.id, state: 'cancelled' });
    }
    return out;
  });
  for (const runId of signals) ctx.bus.emit('cancel', { runId });
  await advancePipelineRun(ctx, id);
  return requirePipelineRun(ctx.db.kysely, id);
}

/**
 * `rerun --from-failed`: a new pipeline run (trigger `rerun`, linked by `rerun_of`) with the same deployment,
 * logical time and params; the steps (and items) that succeeded are carried over, so only the failed and
 * skipped ones run again, reading the same upstream artifacts.
 */
export async function rerunPipelineFromFailed(ctx: Ctx, id: string): Promise<PipelineRunRow> {
  const row = await ctx.db.tx(async (trx) => {
    const old = await requirePipelineRun(trx, id);
    if (!isPipelineTerminal(old.state)) throw new KairosError('conflict', `pipeline run ${id} is still running; cancel it or wait for it to end`);
    if (old.state === 'succeeded') throw new KairosError('conflict', `pipeline run ${id} succeeded: nothing failed to run again`);
    const manifest = await ctx.manifestOf(old.deployment_id, trx);
    const p = pipelineOf(manifest, old, old.pipeline);
    const now = ctx.now();
    const created = await insertPipelineRun(trx, { id: old.deployment_id, project: old.project }, p, {
      pipeline: p.name,
      trigger: 'rerun',
      scheduledFor: Number(old.scheduled_for),
      rerunOf: old.id,
    }, JSON.parse(old.params_json) as Record<string, PipelineValue>, now);
    const kept = (await trx.selectFrom('pipeline_steps as s').innerJoin('runs as r', 'r.id', 's.run_id').select(['s.step', 's.item', 's.item_value', 's.run_id']).where('s.pipeline_run_id', '=', id).where('r.state', '=', 'succeeded').execute());
    for (const k of kept) await trx.insertInto('pipeline_steps').values({ pipeline_run_id: created.id, step: k.step, item: Number(k.item), item_value: k.item_value, run_id: k.run_id }).execute();
    return created;
  });
  ctx.bus.emit('pipelineWake');
  await advancePipelineRun(ctx, row.id);
  return requirePipelineRun(ctx.db.kysely, row.id);
}

/** The pipeline run a run id names, if it is one (so `kairos rerun`/`cancel` take either kind of id). */
export async function findPipelineRun(q: Q, id: string): Promise<PipelineRunRow | undefined> {
  return q.selectFrom('pipeline_runs').selectAll().where('id', '=', id).executeTakeFirst();
}

// ── inputs: KAIROS_INPUTS/<upstream step>/ ──

/**
 * The artifacts of the steps a step run needs, one input per upstream step (named after it): the files of
 * its run, or for a fanned-out step one folder per item. Empty for a run that is no pipeline's step.
 */
export async function pipelineInputs(ctx: Ctx, q: Q, run: Pick<RunRow, 'id'>): Promise<ResolvedInput[]> {
  const link = await q.selectFrom('pipeline_steps').select(['pipeline_run_id', 'step']).where('run_id', '=', run.id).orderBy('pipeline_run_id', 'desc').executeTakeFirst();
  if (!link) return [];
  const pr = await requirePipelineRun(q, link.pipeline_run_id);
  const p = pipelineOf(await ctx.manifestOf(pr.deployment_id, q), pr, pr.pipeline);
  const step = p.steps.find((s) => s.name === link.step);
  if (!step) return [];
  const out: ResolvedInput[] = [];
  for (const need of step.needs) {
    const upstream = p.steps.find((s) => s.name === need);
    const rows = await q
      .selectFrom('pipeline_steps as s')
      .innerJoin('runs as r', 'r.id', 's.run_id')
      .select(['s.item', 's.item_value', 's.run_id', 'r.attempt'])
      .where('s.pipeline_run_id', '=', pr.id)
      .where('s.step', '=', need)
      .orderBy('s.item')
      .execute();
    const files: FileEntry[] = [];
    for (const r of rows) {
      const arts = await q.selectFrom('artifacts').select(['path', 'sha256', 'size', 'stored']).where('run_id', '=', r.run_id).where('attempt', '=', Number(r.attempt)).orderBy('path').execute();
      const prefix = upstream?.map ? `${itemFolder(r.item_value, Number(r.item))}/` : '';
      for (const a of arts) {
        if (Number(a.stored) !== 1) throw new KairosError('not_found', `input ${need}: artifact ${a.path} of run ${r.run_id} was not kept in the artifact store`);
        files.push({ path: `${prefix}${a.path}`, sha256: a.sha256, size: Number(a.size) });
      }
    }
    out.push({ name: need, source: 'run', ref: `step:${need}`, resolved: rows.length === 1 ? (rows[0]?.run_id ?? '') : `${pr.id}:${need}`.slice(0, 100), kind: 'dir', digest: fileListDigest('dir', files), files });
  }
  return out;
}

// ── views ──

export interface PipelineRunView {
  readonly id: string;
  readonly project: string;
  readonly pipeline: string;
  readonly state: string;
  readonly trigger: string;
  readonly params: Record<string, unknown>;
  readonly scheduled_for: string;
  readonly rerun_of: string | null;
  readonly cancel_requested: boolean;
  readonly created_at: string;
  readonly finished_at: string | null;
  readonly reason: string | null;
}

const iso = (ms: number | string | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export function pipelineRunView(r: PipelineRunRow): PipelineRunView {
  return {
    id: r.id,
    project: r.project,
    pipeline: r.pipeline,
    state: r.state,
    trigger: r.trigger,
    params: JSON.parse(r.params_json) as Record<string, unknown>,
    scheduled_for: iso(r.scheduled_for) as string,
    rerun_of: r.rerun_of,
    cancel_requested: r.cancel_requested === 1,
    created_at: iso(r.created_at) as string,
    finished_at: iso(r.finished_at),
    reason: r.reason,
  };
}

export interface StepView extends StepSummary {
  readonly job: string;
  readonly needs: readonly string[];
  readonly map: string | null;
  readonly runs: readonly { run_id: string; item: number; item_value: string | null; state: string }[];
}

/** A pipeline run with its steps: the graph the dashboard draws and `kairos runs --pipeline` prints. */
export async function pipelineRunDetail(ctx: Ctx, id: string): Promise<PipelineRunView & { steps: StepView[] }> {
  const pr = await requirePipelineRun(ctx.db.kysely, id);
  const p = pipelineOf(await ctx.manifestOf(pr.deployment_id), pr, pr.pipeline);
  const rows = await stepRows(ctx.db.kysely, id);
  const values = JSON.parse(pr.params_json) as Record<string, PipelineValue>;
  const counts = Object.fromEntries(Object.entries(itemsOf(p, values)).map(([k, v]) => [k, v.length]));
  const plan = planPipeline(p, rows.map((r) => ({ step: r.step, item: r.item, state: r.state })), counts, true);
  const steps = plan.steps.map((s): StepView => {
    const def = p.steps.find((x) => x.name === s.step);
    const mine = rows.filter((r) => r.step === s.step).sort((a, b) => a.item - b.item);
    return { ...s, job: def?.job ?? '', needs: def?.needs ?? [], map: def?.map ?? null, runs: mine.slice(0, 200).map((r) => ({ run_id: r.run_id, item: r.item, item_value: r.item_value, state: r.state })) };
  });
  return { ...pipelineRunView(pr), steps };
}

export interface PipelineRunFilter {
  readonly project?: string;
  readonly pipeline?: string;
  readonly state?: string;
  readonly limit: number;
}

export async function listPipelineRuns(q: Q, f: PipelineRunFilter): Promise<PipelineRunRow[]> {
  let sel = q.selectFrom('pipeline_runs').selectAll();
  if (f.project) sel = sel.where('project', '=', f.project);
  if (f.pipeline) sel = sel.where('pipeline', '=', f.pipeline);
  if (f.state) sel = sel.where('state', '=', f.state);
  return sel.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
}

export interface PipelineView {
  readonly project: string;
  readonly name: string;
  readonly description: string | null;
  readonly steps: readonly { name: string; job: string; needs: readonly string[]; map: string | null }[];
  readonly params: Record<string, unknown>;
  readonly schedule: { cron: string; timezone: string; paused: boolean; next_fire_at: string | null } | null;
  readonly max_parallel: number;
  readonly last_run: { id: string; state: string; created_at: string } | null;
}

/** The pipelines of the active deployments, with their next fire times. */
export async function listPipelines(ctx: Ctx, project?: string): Promise<PipelineView[]> {
  const deps = (await activeDeployments(ctx.db.kysely)).filter((d) => !project || d.project === project);
  const out: PipelineView[] = [];
  for (const dep of deps) {
    const m = await ctx.manifestOf(dep.id);
    for (const p of Object.values(m.pipelines ?? {})) {
      const sched = p.schedule ? await ctx.db.kysely.selectFrom('schedules').selectAll().where('id', '=', scheduleId(dep.project, pipelineScheduleJob(p.name))).executeTakeFirst() : undefined;
      const last = await ctx.db.kysely.selectFrom('pipeline_runs').select(['id', 'state', 'created_at']).where('project', '=', dep.project).where('pipeline', '=', p.name).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
      out.push({
        project: dep.project,
        name: p.name,
        description: p.description,
        steps: p.steps.map((s) => ({ name: s.name, job: s.job, needs: s.needs, map: s.map })),
        params: p.params as Record<string, unknown>,
        schedule: p.schedule ? { cron: p.schedule.cron, timezone: p.schedule.timezone, paused: sched?.paused === 1, next_fire_at: sched?.next_fire_at == null || sched.paused === 1 ? null : iso(sched.next_fire_at) } : null,
        max_parallel: p.maxParallel,
        last_run: last ? { id: last.id, state: last.state, created_at: iso(last.created_at) as string } : null,
      });
    }
  }
  return out;
}

/** Jobs of a manifest that some pipeline runs as a step with needs (computed once per compiled manifest). */
const stepJobs = new WeakMap<CompiledManifest, ReadonlySet<string>>();

/**
 * The job spec a worker gets: for a job some pipeline step with needs runs, with one marker input added, so
 * the worker asks for its inputs (the control plane answers with the upstream steps' artifacts, if the run is
 * such a step, and the job's own inputs). No database read: decided from the manifest alone.
 */
export function withPipelineInputs<T extends CompiledJob>(manifest: CompiledManifest, spec: T): T {
  if (!manifest.pipelines) return spec;
  let jobs = stepJobs.get(manifest);
  if (!jobs) {
    jobs = new Set(Object.values(manifest.pipelines).flatMap((p) => p.steps.filter((s) => s.needs.length > 0).map((s) => s.job)));
    stepJobs.set(manifest, jobs);
  }
  if (!jobs.has(spec.name)) return spec;
  return { ...spec, inputs: [...spec.inputs, { name: '.pipeline', ref: 'pipeline:upstream', source: 'run', job: '', path: '' }] };
}
