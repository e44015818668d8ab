/**
 * Read endpoints the dashboard needs beyond the CLI's: workers, one job with its statistics, a job's metric
 * series, and what changed between deployments. Read-only, indexed, bounded: each answers from a fixed
 * number of indexed lookups, however long the history is.
 */
import type { Hono, Context } from 'hono';
import type { Engine } from '../control/engine.js';
import { bundleDir, scanProject } from '../bundle/bundle.js';
import { activeDeployment } from '../control/deployments.js';
import { KairosError } from '../model/errors.js';
import { isTerminal, type RunState } from '../model/run-state.js';
import type { CompiledJob, CompiledManifest } from '../model/job.js';
import { iso, jobView } from './views.js';
import { API } from './contract/index.js';
import type { WorkerView } from './contract/ops.js';
import { input } from './input.js';
import { listSchedules } from './schedules.js';
import { jobMetrics } from './job-metrics.js';

/**
 * Whether the caller may see a project's objects. Everyone, until tokens limited to a project exist; then
 * createApi passes the auth module's check, and another project's job or deployment answers as one that
 * does not exist.
 */
export type Visible = (c: Context, project: string) => boolean;

/** Fields of a job that differ between two compiled manifests, by name (JSON comparison of each field). */
function changedFields(a: CompiledJob, b: CompiledJob): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const out: string[] = [];
  for (const k of keys) {
    if (JSON.stringify((a as unknown as Record<string, unknown>)[k]) !== JSON.stringify((b as unknown as Record<string, unknown>)[k])) out.push(k);
  }
  return out.sort();
}

export function registerDashboardRoutes(app: Hono, engine: Engine, visible: Visible = () => true): void {
  const db = engine.db.kysely;

  // Workers: a worker is alive when it has not stopped and renewed within two lease periods.
  app.get(API.ops.workers.path, async (c) => {
    await input(c, API.ops.workers);
    const now = engine.ctx.now();
    const leaseMs = engine.ctx.settings.leaseMs;
    const rows = await db.selectFrom('workers').selectAll().orderBy('id').execute();
    const running = await db
      .selectFrom('attempts')
      .innerJoin('runs', 'runs.id', 'attempts.run_id')
      .select(['attempts.worker_id', 'attempts.run_id', 'attempts.number', 'runs.project', 'runs.job', 'attempts.started_at'])
      .where('attempts.state', '=', 'running')
      .execute();
    return c.json({
      workers: rows.map((w) => {
        const mine = running.filter((r) => r.worker_id === w.id && visible(c, r.project));
        return {
          id: w.id,
          host: w.host,
          pools: JSON.parse(w.pools_json) as string[],
          capacity: w.capacity,
          version: w.version,
          started_at: iso(w.started_at),
          heartbeat_at: iso(w.heartbeat_at),
          stopped_at: iso(w.stopped_at),
          place: w.place ?? null,
          offer: offerView(w.offer_json ?? null),
          alive: w.stopped_at === null && now - Number(w.heartbeat_at) < 2 * leaseMs,
          running: mine.map((r) => ({ run_id: r.run_id, attempt: r.number, project: r.project, job: r.job, started_at: iso(r.started_at) })),
        };
      }),
    });
  });

  async function requireJob(c: Context, project: string, job: string): Promise<{ manifest: CompiledManifest; version: number; job: CompiledJob }> {
    const dep = visible(c, project) ? await activeDeployment(db, project) : undefined;
    if (!dep) throw new KairosError('not_found', `project "${project}" has no active deployment`);
    const manifest = await engine.ctx.manifestOf(dep.id);
    const j = manifest.jobs[job];
    if (!j) throw new KairosError('not_found', `project "${project}" has no job "${job}" in its active deployment (v${dep.version})`);
    return { manifest, version: dep.version, job: j };
  }

  // One job: its definition, its schedule in words with the next fire times, and its recent outcomes.
  app.get(API.deployments.job.path, async (c) => {
    const { params, query } = await input(c, API.deployments.job);
    const { project, job: name } = params;
    const recentN = query.recent ?? 100;
    const { version, job } = await requireJob(c, project, name);
    const schedule = job.schedule ? ((await listSchedules(engine, project, query.count ?? 5, name))[0] ?? null) : null;
    // The runs_job index (project, job, created_at): the newest N runs, whatever the history's length.
    const recent = await db
      .selectFrom('runs')
      .select(['id', 'state', 'trigger', 'attempt', 'created_at', 'started_at', 'finished_at', 'exit_code'])
      .where('project', '=', project)
      .where('job', '=', name)
      .orderBy('created_at', 'desc')
      .limit(recentN)
      .execute();
    const finished = recent.filter((r) => isTerminal(r.state as RunState) && r.state !== 'skipped');
    const succeeded = finished.filter((r) => r.state === 'succeeded').length;
    return c.json({
      job: jobView(project, version, job),
      schedule,
      stats: {
        window: recent.length,
        finished: finished.length,
        succeeded,
        success_rate: finished.length === 0 ? null : succeeded / finished.length,
      },
      recent: recent.reverse().map((r) => ({
        id: r.id,
        state: r.state,
        trigger: r.trigger,
        attempt: r.attempt,
        created_at: iso(r.created_at),
        started_at: iso(r.started_at),
        finished_at: iso(r.finished_at),
        exit_code: r.exit_code,
        duration_ms: r.started_at !== null && r.finished_at !== null ? Number(r.finished_at) - Number(r.started_at) : null,
      })),
    });
  });

  // Each metric a job reports, one point per run at its logical time, with the job's metric thresholds
  // (src/api/job-metrics.ts). A job no longer deployed still shows its history, without thresholds.
  app.get(API.deployments.jobMetrics.path, async (c) => {
    const { params, query } = await input(c, API.deployments.jobMetrics);
    const { project, job: name } = params;
    const limit = query.runs ?? 100;
    if (!visible(c, project)) await requireJob(c, project, name); // answers not_found
    let job: CompiledJob | null = null;
    let missing: unknown = null;
    try {
      job = (await requireJob(c, project, name)).job;
    } catch (err) {
      missing = err;
    }
    const answer = await jobMetrics(c, db, { project, job: name, limit }, job);
    if (missing !== null && answer.window.runs === 0 && answer.window.from === null && answer.window.to === null) throw missing; // no such job, no history
    return c.json(answer);
  });

  // What a deployment changed against the version before it: jobs added, removed or changed (and which
  // fields), files added, removed or changed (from the two content-addressed bundles).
  app.get(API.deployments.diff.path, async (c) => {
    const { id } = (await input(c, API.deployments.diff)).params;
    const dep = await db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
    if (!dep || !visible(c, dep.project)) throw new KairosError('not_found', `deployment ${id} not found`);
    const prev = await db.selectFrom('deployments').selectAll().where('project', '=', dep.project).where('version', '<', dep.version).orderBy('version', 'desc').limit(1).executeTakeFirst();
    const to = await engine.ctx.manifestOf(dep.id);
    const from = prev ? await engine.ctx.manifestOf(prev.id) : null;
    const fromJobs = from?.jobs ?? {};
    const jobs = { added: [] as string[], removed: [] as string[], changed: [] as { job: string; fields: string[] }[] };
    for (const [n, j] of Object.entries(to.jobs)) {
      const old = fromJobs[n];
      if (!old) jobs.added.push(n);
      else {
        const fields = changedFields(old, j);
        if (fields.length > 0) jobs.changed.push({ job: n, fields });
      }
    }
    for (const n of Object.keys(fromJobs)) if (!to.jobs[n]) jobs.removed.push(n);
    const files = { added: [] as string[], removed: [] as string[], changed: [] as string[], available: true };
    try {
      const dataDir = engine.ctx.settings.dataDir;
      const now = new Map((await scanProject(bundleDir(dataDir, dep.bundle_hash))).entries.map((e) => [e.path, e.sha256]));
      const before = prev ? new Map((await scanProject(bundleDir(dataDir, prev.bundle_hash))).entries.map((e) => [e.path, e.sha256])) : new Map<string, string>();
      for (const [p, h] of now) {
        const o = before.get(p);
        if (o === undefined) files.added.push(p);
        else if (o !== h) files.changed.push(p);
      }
      for (const p of before.keys()) if (!now.has(p)) files.removed.push(p);
    } catch {
      // A bundle that is not on this control plane's disk (pruned, or another data dir): say so, list no files.
      files.available = false;
    }
    return c.json({
      id: dep.id,
      project: dep.project,
      version: dep.version,
      previous: prev ? { id: prev.id, version: prev.version } : null,
      jobs,
      files,
    });
  });
}

export function offerView(json: string | null): WorkerView['offer'] {
  if (!json) return null;
  const o = JSON.parse(json) as { cpu: number; memoryBytes: number; gpu: number; maxTimeMs: number | null; slots: number; nodes?: number };
  return { cpu: o.cpu, memory_bytes: o.memoryBytes, gpu: o.gpu, max_time_ms: o.maxTimeMs, slots: o.slots, ...(o.nodes !== undefined ? { nodes: o.nodes } : {}) };
}
