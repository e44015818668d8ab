/**
 * Deployments: each accepted manifest becomes an immutable, numbered version of its project, activated
 * whole or not at all (bundle written first, then one transaction switches the active version and its
 * schedules).
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { pipelineScheduleJob } from '../model/pipeline.js';
import type { Selectable } from 'kysely';
import type { CompiledManifest } from '../model/job.js';
import { KairosError } from '../model/errors.js';
import { newId } from '../model/ids.js';
import { nextFire, parseCron } from '../model/cron/index.js';
import type { DeploymentsTable } from '../store/schema.js';
import type { Q } from '../store/runs.js';
import { scanProject, writeBundle } from '../bundle/bundle.js';
import type { Ctx } from './context.js';
import { assertWebhooksAllowed } from './webhook-check.js';
import { readCompiledManifest } from '../manifest/upgrade.js';
import { isDeepStrictEqual } from 'node:util';

type DeployRecord = 'deployed_by' | 'git_commit' | 'git_dirty';
/** A deployment; who deployed it and from which commit is optional (rows read without those columns). */
export type DeploymentRow = Omit<Selectable<DeploymentsTable>, DeployRecord> & Partial<Pick<Selectable<DeploymentsTable>, DeployRecord>>;

export interface DeployOutcome {
  readonly deployment: DeploymentRow;
  /** False when the project's files and manifest were unchanged: the active version stays. */
  readonly created: boolean;
}

export async function activeDeployment(q: Q, project: string): Promise<DeploymentRow | undefined> {
  return q.selectFrom('deployments').selectAll().where('project', '=', project).where('active', '=', 1).executeTakeFirst();
}

export async function activeDeployments(q: Q): Promise<DeploymentRow[]> {
  return q.selectFrom('deployments').selectAll().where('active', '=', 1).orderBy('project').execute();
}

export async function listDeployments(q: Q, project: string | undefined, limit: number): Promise<DeploymentRow[]> {
  let query = q.selectFrom('deployments').selectAll();
  if (project) query = query.where('project', '=', project);
  return query.orderBy('created_at', 'desc').orderBy('version', 'desc').limit(limit).execute();
}

export function scheduleId(project: string, job: string): string {
  return `${project}/${job}`;
}

/** Who deployed a version, and from which commit. */
export interface DeployMeta {
  /** Token name, "bootstrap" (the server's --token) or "local". */
  readonly deployedBy: string;
  readonly gitCommit?: string | null;
  readonly gitDirty?: boolean | null;
}

/** Snapshots `dir` and activates it with `manifest` as a new version, unless nothing changed. */
export async function deployDirectory(ctx: Ctx, dir: string, manifest: CompiledManifest, source: string, meta: DeployMeta = { deployedBy: 'local' }): Promise<DeployOutcome> {
  // A data directory inside the project (`--data DIR/state`) holds the database and the secret key: never bundled.
  const data = relative(resolve(dir), resolve(ctx.settings.dataDir));
  const scanned = await scanProject(dir, data !== '' && !data.startsWith('..') && !isAbsolute(data) ? ['/' + data.split(sep).join('/') + '/'] : []);
  await writeBundle(ctx.settings.dataDir, scanned);
  return activateBundle(ctx, scanned.hash, manifest, source, meta);
}

/**
 * Activates the bundle `hash` (already complete under the data directory) with `manifest` as a new version,
 * in one transaction with its schedules, unless the active version has the same bundle and manifest.
 */
export async function activateBundle(ctx: Ctx, hash: string, manifest: CompiledManifest, source: string, meta: DeployMeta): Promise<DeployOutcome> {
  // A webhook the server would refuse to call is refused now, not when its first alert fires.
  if (ctx.settings.webhookAllowHosts !== undefined) await assertWebhooksAllowed(manifest, ctx.settings.webhookAllowHosts);
  const manifestJson = JSON.stringify(manifest);
  const outcome = await ctx.db.tx(async (trx) => {
    const current = await activeDeployment(trx, manifest.project);
    // Unchanged: the same bundle and the same manifest (one stored by an earlier Kairos compared once upgraded).
    if (current && current.bundle_hash === hash && (current.manifest_json === manifestJson || isDeepStrictEqual(readCompiledManifest(current.manifest_json), manifest))) {
      return { deployment: current, created: false };
    }
    const now = ctx.now();
    const last = await trx
      .selectFrom('deployments')
      .select((eb) => eb.fn.max('version').as('v'))
      .where('project', '=', manifest.project)
      .executeTakeFirst();
    const row: DeploymentRow = {
      id: newId(now),
      project: manifest.project,
      version: Number(last?.v ?? 0) + 1,
      bundle_hash: hash,
      manifest_json: manifestJson,
      created_at: now,
      active: 1,
      source,
      deployed_by: meta.deployedBy,
      git_commit: meta.gitCommit ?? null,
      git_dirty: meta.gitDirty === undefined || meta.gitDirty === null ? null : meta.gitDirty ? 1 : 0,
    };
    await trx.updateTable('deployments').set({ active: 0 }).where('project', '=', manifest.project).where('active', '=', 1).execute();
    await trx.insertInto('deployments').values(row).execute();
    await syncSchedules(trx, manifest, row.id, now);
    return { deployment: row, created: true };
  });
  if (outcome.created) ctx.bus.emit('schedules');
  return outcome;
}

/**
 * Makes an earlier version of `project` the active one again, in one transaction with its schedules (they
 * follow that version's manifest, as on a deploy). Activating the active version changes nothing.
 */
export async function activateVersion(ctx: Ctx, project: string, version: number): Promise<DeploymentRow> {
  const row = await ctx.db.tx(async (trx) => {
    const target = await trx.selectFrom('deployments').selectAll().where('project', '=', project).where('version', '=', version).executeTakeFirst();
    if (!target) throw new KairosError('not_found', `project "${project}" has no version ${version}`);
    if (target.active === 1) return target;
    const manifest = readCompiledManifest(target.manifest_json);
    await trx.updateTable('deployments').set({ active: 0 }).where('project', '=', project).where('active', '=', 1).execute();
    await trx.updateTable('deployments').set({ active: 1 }).where('id', '=', target.id).execute();
    await syncSchedules(trx, manifest, target.id, ctx.now());
    return { ...target, active: 1 };
  });
  ctx.bus.emit('schedules');
  return row;
}

/**
 * Makes the schedules table match the manifest. A schedule keeps its cursor (and so never refires a tick)
 * while its expression and zone are unchanged; a new or changed schedule starts from now.
 */
async function syncSchedules(trx: Q, manifest: CompiledManifest, deploymentId: string, now: number): Promise<void> {
  const existing = await trx.selectFrom('schedules').selectAll().where('project', '=', manifest.project).execute();
  const byJob = new Map(existing.map((s) => [s.job, s]));
  // A pipeline's schedule is a row like a job's, under the name `pipeline:<name>` (no job can have it).
  const scheduled = [...Object.values(manifest.jobs), ...Object.values(manifest.pipelines ?? {}).map((p) => ({ name: pipelineScheduleJob(p.name), schedule: p.schedule }))];
  for (const job of scheduled) {
    const sched = job.schedule;
    if (!sched) continue;
    const parsed = parseCron(sched.cron);
    if (!parsed.ok) throw new Error(`schedule of ${job.name} does not parse: ${parsed.error.message}`);
    const prev = byJob.get(job.name);
    byJob.delete(job.name);
    const keepCursor = prev && prev.active === 1 && prev.cron === sched.cron && prev.timezone === sched.timezone;
    const cursor = keepCursor ? Number(prev.cursor_at) : now;
    const values = {
      cron: sched.cron,
      timezone: sched.timezone,
      catchup: sched.catchup,
      concurrency: sched.concurrency,
      max_catchup: sched.maxCatchup,
      active: 1,
      cursor_at: cursor,
      next_fire_at: nextFire(parsed.cron, sched.timezone, cursor),
      deployment_id: deploymentId,
      updated_at: now,
    };
    if (prev) {
      await trx.updateTable('schedules').set(values).where('id', '=', prev.id).execute();
    } else {
      await trx
        .insertInto('schedules')
        .values({ id: scheduleId(manifest.project, job.name), project: manifest.project, job: job.name, paused: 0, ...values })
        .execute();
    }
  }
  for (const gone of byJob.values()) {
    await trx.updateTable('schedules').set({ active: 0, next_fire_at: null, updated_at: now }).where('id', '=', gone.id).execute();
  }
}
