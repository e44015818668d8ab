/**
 * Pipelines, the pure part (docs/pipelines.md): the compiled shape of `pipelines.<name>`, the `${{ … }}`
 * substitution of step params, and `planPipeline`, which looks at a pipeline run's steps as they are and says
 * what to do next (create step runs, record skipped steps, end the pipeline run). No I/O, no clock.
 */
import type { CompiledSchedule, NotifyRule, ParamType, ParamValue } from './job.js';
import type { RunState } from './run-state.js';

/** Pipeline params have the job param types plus `list` (what `map` fans out over). */
export const PIPELINE_PARAM_TYPES = ['string', 'integer', 'number', 'boolean', 'date', 'list'] as const;
export type PipelineParamType = ParamType | 'list';
/** A pipeline param value: a scalar, or a list of scalars (a `list` param). */
export type PipelineValue = ParamValue | readonly ParamValue[];

export interface PipelineParamSpec {
  readonly type: PipelineParamType;
  readonly default?: PipelineValue;
  readonly required: boolean;
  readonly enum?: readonly ParamValue[];
  readonly description?: string;
}

export interface CompiledStep {
  readonly name: string;
  readonly job: string;
  readonly needs: readonly string[];
  /** Values for the job's params: literals, or text with `${{ params.NAME }}` / `${{ item }}` in it. */
  readonly params: Readonly<Record<string, ParamValue>>;
  /** The `list` pipeline param this step fans out over (one run per item), or null. */
  readonly map: string | null;
}

/** Default of `max_parallel`: most runs of one fanned-out step live at once. */
export const DEFAULT_MAX_PARALLEL = 8;

export interface CompiledPipeline {
  readonly name: string;
  readonly description: string | null;
  readonly params: Readonly<Record<string, PipelineParamSpec>>;
  /** Steps in a topological order (each after all it needs). */
  readonly steps: readonly CompiledStep[];
  readonly schedule: CompiledSchedule | null;
  readonly timeoutMs: number | null;
  readonly maxParallel: number;
  readonly notify: readonly NotifyRule[];
}

/** The job name a pipeline's schedule row carries (`:` is in no job name, so it cannot collide with one). */
export const PIPELINE_SCHEDULE_PREFIX = 'pipeline:';
export function pipelineScheduleJob(name: string): string {
  return `${PIPELINE_SCHEDULE_PREFIX}${name}`;
}
export function pipelineOfScheduleJob(job: string): string | null {
  return job.startsWith(PIPELINE_SCHEDULE_PREFIX) ? job.slice(PIPELINE_SCHEDULE_PREFIX.length) : null;
}

// ── substitution ──

/** `${{ params.NAME }}` or `${{ item }}`; anything else between `${{` and `}}` is refused by the compiler. */
export const SUBSTITUTION = /\$\{\{\s*([^}]*?)\s*\}\}/g;

export type Reference = { readonly kind: 'param'; readonly name: string } | { readonly kind: 'item' } | { readonly kind: 'bad'; readonly text: string };

export function parseReference(text: string): Reference {
  if (text === 'item') return { kind: 'item' };
  const m = /^params\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(text);
  return m?.[1] !== undefined ? { kind: 'param', name: m[1] } : { kind: 'bad', text };
}

/** The references in a step param value. */
export function referencesIn(value: ParamValue): Reference[] {
  if (typeof value !== 'string') return [];
  return [...value.matchAll(SUBSTITUTION)].map((m) => parseReference(m[1] ?? ''));
}

function text(v: PipelineValue): string {
  return Array.isArray(v) ? v.map(String).join(',') : String(v);
}

/**
 * A step param value with its references replaced. A value that is exactly one reference keeps the type of
 * what it names (`${{ params.n }}` of an integer is that integer); text around a reference makes it text.
 * Never evaluated by a shell: the result is a param value like any other.
 */
export function substitute(value: ParamValue, params: Readonly<Record<string, PipelineValue>>, item: ParamValue | null): PipelineValue | undefined {
  if (typeof value !== 'string') return value;
  const lookup = (r: Reference): PipelineValue | undefined => (r.kind === 'item' ? (item ?? undefined) : r.kind === 'param' ? params[r.name] : undefined);
  const whole = /^\$\{\{\s*([^}]*?)\s*\}\}$/.exec(value);
  if (whole) return lookup(parseReference(whole[1] ?? ''));
  return value.replace(SUBSTITUTION, (_, inner: string) => {
    const v = lookup(parseReference(inner));
    return v === undefined ? '' : text(v);
  });
}

/**
 * The params a step's run is created with: the step's own (substituted), then every pipeline param the job
 * declares under the same name and the step did not set.
 */
export function stepParams(
  step: CompiledStep,
  jobParams: readonly string[],
  params: Readonly<Record<string, PipelineValue>>,
  item: ParamValue | null,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of jobParams) {
    const v = params[name];
    if (v !== undefined && !Array.isArray(v)) out[name] = v;
  }
  for (const [name, raw] of Object.entries(step.params)) {
    const v = substitute(raw, params, item);
    if (v !== undefined) out[name] = Array.isArray(v) ? v.map(String).join(',') : v;
  }
  return out;
}

/** The folder name of item `index` under KAIROS_INPUTS/<step>/: the item itself when it is a safe name. */
export function itemFolder(value: string | null, index: number): string {
  return value !== null && /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(value) ? value : String(index);
}

// ── the graph ──

/** Steps of a cycle, in order, or null when `needs` form none. */
export function findCycle(steps: Readonly<Record<string, readonly string[]>>): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (s: string): string[] | null => {
    const st = state.get(s);
    if (st === 'done') return null;
    if (st === 'visiting') return [...stack.slice(stack.indexOf(s)), s];
    state.set(s, 'visiting');
    stack.push(s);
    for (const n of steps[s] ?? []) {
      if (!Object.hasOwn(steps, n)) continue;
      const c = visit(n);
      if (c) return c;
    }
    stack.pop();
    state.set(s, 'done');
    return null;
  };
  for (const s of Object.keys(steps)) {
    const c = visit(s);
    if (c) return c;
  }
  return null;
}

/** A topological order (needs first), stable by the order steps were written. Assumes no cycle. */
export function topologicalOrder(steps: Readonly<Record<string, readonly string[]>>): string[] {
  const out: string[] = [];
  const done = new Set<string>();
  const visit = (s: string): void => {
    if (done.has(s)) return;
    done.add(s);
    for (const n of steps[s] ?? []) if (Object.hasOwn(steps, n)) visit(n);
    out.push(s);
  };
  for (const s of Object.keys(steps)) visit(s);
  return out;
}

// ── pipeline runs ──

export const PIPELINE_RUN_STATES = ['running', 'succeeded', 'failed', 'cancelled', 'skipped'] as const;
export type PipelineRunState = (typeof PIPELINE_RUN_STATES)[number];

export function isPipelineTerminal(s: string): boolean {
  return s !== 'running';
}

/** The pipeline run's own state machine: `running` → an end; ends never change. */
export function pipelineTransition(from: PipelineRunState, to: PipelineRunState): boolean {
  return from === 'running' && to !== 'running';
}

/** One step run of a pipeline run, as the planner sees it. `item` is -1 for a step without `map`. */
export interface StepRunView {
  readonly step: string;
  readonly item: number;
  readonly state: RunState;
}

/** A step's state in a pipeline run: what the dashboard colours and the planner reasons with. */
export type StepState = 'pending' | 'queued' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface StepSummary {
  readonly step: string;
  readonly state: StepState;
  /** Items of a fanned-out step (1 for a plain step), and how many are in each run state. */
  readonly total: number;
  readonly counts: Readonly<Partial<Record<RunState, number>>>;
}

export type PipelineAction =
  | { readonly kind: 'create'; readonly step: string; readonly item: number }
  | { readonly kind: 'skip'; readonly step: string; readonly upstream: string }
  | { readonly kind: 'finish'; readonly state: PipelineRunState; readonly reason: string | null };

const FAILED_STATES: ReadonlySet<RunState> = new Set(['failed', 'timed_out', 'cancelled', 'skipped']);

/**
 * What to do next in a pipeline run, from its step runs as they are. `items[step]` is the number of items of
 * a mapped step (from its list param). A step is created once every step it needs has succeeded (every item);
 * a step whose need ended any other way is skipped; a mapped step has at most `maxParallel` runs live at once.
 * When nothing is live and nothing can be created, the pipeline run ends: succeeded when every step did.
 */
export function planPipeline(
  p: Pick<CompiledPipeline, 'steps' | 'maxParallel'>,
  runs: readonly StepRunView[],
  items: Readonly<Record<string, number>>,
  cancelRequested: boolean,
): { actions: PipelineAction[]; steps: StepSummary[] } {
  const byStep = new Map<string, StepRunView[]>();
  for (const r of runs) {
    const list = byStep.get(r.step) ?? [];
    list.push(r);
    byStep.set(r.step, list);
  }
  const summaries = new Map<string, StepSummary>();
  const actions: PipelineAction[] = [];
  let live = 0;
  for (const step of p.steps) {
    const mine = byStep.get(step.name) ?? [];
    const total = step.map === null ? 1 : (items[step.name] ?? 0);
    const counts: Partial<Record<RunState, number>> = {};
    for (const r of mine) counts[r.state] = (counts[r.state] ?? 0) + 1;
    const n = (s: RunState) => counts[s] ?? 0;
    const active = n('queued') + n('running');
    live += active;
    const bad = mine.filter((r) => FAILED_STATES.has(r.state));
    let state: StepState;
    const skippedWhole = mine.some((r) => r.item === -1 && r.state === 'skipped') && step.map !== null;
    if (skippedWhole || (step.map === null && mine.length > 0 && mine.every((r) => r.state === 'skipped'))) state = 'skipped';
    else if (n('running') > 0) state = 'running';
    else if (n('queued') > 0) state = 'queued';
    else if (mine.length === 0 && total > 0) state = 'pending';
    else if (bad.length > 0 && mine.length >= total) state = bad.every((r) => r.state === 'cancelled') ? 'cancelled' : 'failed';
    else if (n('succeeded') >= total) state = 'succeeded';
    else state = bad.length > 0 ? 'failed' : 'pending';
    // A mapped step with items left to create is not over even if some ended.
    if ((state === 'failed' || state === 'cancelled') && mine.length < total && !skippedWhole) state = 'running';
    summaries.set(step.name, { step: step.name, state, total, counts });
  }
  for (const step of p.steps) {
    const s = summaries.get(step.name);
    if (!s || (s.state !== 'pending' && s.state !== 'running' && s.state !== 'queued')) continue;
    const mine = byStep.get(step.name) ?? [];
    if (mine.length === 0) {
      const broken = step.needs.find((n) => {
        const st = summaries.get(n)?.state;
        return st === 'failed' || st === 'skipped' || st === 'cancelled';
      });
      if (broken !== undefined) {
        actions.push({ kind: 'skip', step: step.name, upstream: broken });
        summaries.set(step.name, { ...s, state: 'skipped' });
        continue;
      }
      if (cancelRequested) continue;
      if (!step.needs.every((n) => summaries.get(n)?.state === 'succeeded')) continue;
    }
    if (cancelRequested) continue;
    // Items are created in order: the first `mine.length` exist.
    const activeNow = (s.counts.queued ?? 0) + (s.counts.running ?? 0);
    const room = step.map === null ? 1 - mine.length : Math.max(0, p.maxParallel - activeNow);
    const existing = new Set(mine.map((r) => r.item));
    let made = 0;
    for (let i = 0; i < s.total && made < room; i++) {
      const item = step.map === null ? -1 : i;
      if (existing.has(item)) continue;
      actions.push({ kind: 'create', step: step.name, item });
      made++;
    }
    live += made;
  }
  if (live === 0 && !actions.some((a) => a.kind === 'create')) {
    const all = [...summaries.values()];
    const pending = all.filter((s) => s.state === 'pending' || s.state === 'queued' || s.state === 'running');
    if (pending.length === 0 || cancelRequested) {
      let state: PipelineRunState = 'succeeded';
      let reason: string | null = null;
      const failed = all.filter((s) => s.state === 'failed' || s.state === 'cancelled');
      if (cancelRequested) {
        state = 'cancelled';
        reason = 'cancelled';
      } else if (failed.length > 0) {
        state = 'failed';
        reason = `step${failed.length > 1 ? 's' : ''} ${failed.map((s) => s.step).join(', ')} failed`;
      } else if (all.some((s) => s.state === 'skipped')) {
        state = 'failed';
        reason = 'steps were skipped';
      }
      actions.push({ kind: 'finish', state, reason });
    }
  }
  return { actions, steps: p.steps.map((s) => summaries.get(s.name) as StepSummary) };
}
