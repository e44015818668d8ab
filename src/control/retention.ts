/**
 * Retention (docs/snapshots.md): the collector. Each pass
 *
 * 1. removes the artifact records of finished runs beyond their job's `retention` (or the server's defaults):
 *    beyond the newest `runs` finished runs of the job, or finished more than `days` days ago. The newest
 *    succeeded run of a job is always kept (it is what `run:JOB@latest/...` names). Such a run is marked
 *    collected, and the blobs it pointed at become candidates;
 * 2. marks every blob of the store that nothing references as a candidate too (uploads never committed);
 * 3. deletes the candidates that are still unreferenced a grace time after they became candidates.
 *
 * A blob is referenced by an artifact record, a snapshot file (snapshots are kept), a file of the package
 * index (with its .metadata), or the pinned inputs of a
 * run that is not collected (a live run, a kept run: its rerun must read the same bytes). Time comes from the
 * database's clock, so tests move it by hand.
 */
import type { ArtifactStore } from '../artifacts/store.js';
import { beyondRetention } from '../model/inputs.js';
import type { Q } from '../store/runs.js';
import type { Ctx } from './context.js';

export interface RetentionSettings {
  /** Default `retention.runs` for jobs that set none (null: no limit by count). */
  readonly runs: number | null;
  /** Default `retention.days` (null: no limit by age). */
  readonly days: number | null;
  /** How long a blob stays unreferenced before it is deleted (uploads in flight are not yet referenced). */
  readonly graceMs: number;
  /** Time between passes. */
  readonly everyMs: number;
}

export const RETENTION_DEFAULTS: RetentionSettings = { runs: null, days: null, graceMs: 3_600_000, everyMs: 600_000 };

const TERMINAL = ['succeeded', 'failed', 'timed_out', 'cancelled'] as const;
const CHUNK = 500;

export interface CollectReport {
  readonly runs: number;
  readonly artifacts: number;
  readonly blobs: number;
}

/** Of `shas`, the ones something still references. */
async function referenced(q: Q, shas: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < shas.length; i += CHUNK) {
    const part = shas.slice(i, i + CHUNK);
    for (const r of await q.selectFrom('artifacts').select('sha256').distinct().where('sha256', 'in', part).execute()) out.add(r.sha256);
    for (const r of await q.selectFrom('snapshot_files').select('sha256').distinct().where('sha256', 'in', part).execute()) out.add(r.sha256);
    // The package index keeps its files (and their .metadata) in the same store (src/pypi/blobs.ts).
    for (const r of await q.selectFrom('pypi_files').select('sha256').where('sha256', 'in', part).execute()) out.add(r.sha256);
    for (const r of await q.selectFrom('pypi_files').select('metadata_sha256').where('metadata_sha256', 'in', part).execute()) if (r.metadata_sha256) out.add(r.metadata_sha256);
    const pinned = await q
      .selectFrom('run_input_files')
      .leftJoin('collected_runs', 'collected_runs.run_id', 'run_input_files.run_id')
      .select('run_input_files.sha256')
      .distinct()
      .where('run_input_files.sha256', 'in', part)
      .where('collected_runs.run_id', 'is', null)
      .execute();
    for (const r of pinned) out.add(r.sha256);
  }
  return out;
}

async function addCandidates(q: Q, shas: readonly string[], now: number): Promise<void> {
  const unique = [...new Set(shas)];
  for (let i = 0; i < unique.length; i += CHUNK) {
    const part = unique.slice(i, i + CHUNK);
    const known = new Set((await q.selectFrom('blob_candidates').select('sha256').where('sha256', 'in', part).execute()).map((r) => r.sha256));
    const fresh = part.filter((s) => !known.has(s));
    if (fresh.length > 0) await q.insertInto('blob_candidates').values(fresh.map((sha256) => ({ sha256, since: now }))).onConflict((oc) => oc.column('sha256').doNothing()).execute();
  }
}

/** Step 1: the artifact records of runs beyond retention. */
async function collectRuns(ctx: Ctx, settings: RetentionSettings, now: number): Promise<{ runs: number; artifacts: number }> {
  const q = ctx.db.kysely;
  const active = await q.selectFrom('deployments').select(['id', 'project']).where('active', '=', 1).execute();
  const policyOf = new Map<string, { runs: number | null; days: number | null }>();
  for (const d of active) {
    const m = await ctx.manifestOf(d.id);
    for (const j of Object.values(m.jobs)) policyOf.set(`${d.project}\u0000${j.name}`, { runs: j.retention?.runs ?? settings.runs, days: j.retention?.days ?? settings.days });
  }
  const pairs = await q.selectFrom('runs').select(['project', 'job']).distinct().execute();
  let runs = 0;
  let artifacts = 0;
  for (const { project, job } of pairs) {
    const policy = policyOf.get(`${project}\u0000${job}`) ?? { runs: settings.runs, days: settings.days };
    if (policy.runs === null && policy.days === null) continue;
    const finished = await q
      .selectFrom('runs')
      .leftJoin('collected_runs', 'collected_runs.run_id', 'runs.id')
      .select(['runs.id', 'runs.state', 'runs.finished_at'])
      .where('runs.project', '=', project)
      .where('runs.job', '=', job)
      .where('runs.state', 'in', [...TERMINAL])
      .where('runs.finished_at', 'is not', null)
      .where('collected_runs.run_id', 'is', null)
      .orderBy('runs.finished_at', 'desc')
      .orderBy('runs.id', 'desc')
      .execute();
    const latestSucceeded = finished.find((r) => r.state === 'succeeded')?.id;
    const gone = beyondRetention(
      finished.map((r) => ({ id: r.id, finishedAt: Number(r.finished_at) })),
      policy,
      now,
    ).filter((r) => r.id !== latestSucceeded);
    for (const r of gone) {
      await ctx.db.tx(async (trx) => {
        const rows = await trx.selectFrom('artifacts').select('sha256').where('run_id', '=', r.id).execute();
        await addCandidates(trx, rows.map((a) => a.sha256), now);
        await trx.deleteFrom('artifacts').where('run_id', '=', r.id).execute();
        await trx.insertInto('collected_runs').values({ run_id: r.id, collected_at: now }).onConflict((oc) => oc.column('run_id').doNothing()).execute();
        artifacts += rows.length;
      });
      runs++;
    }
  }
  return { runs, artifacts };
}

/** One pass of the collector. */
export async function collect(ctx: Ctx, store: ArtifactStore, settings: RetentionSettings): Promise<CollectReport> {
  const now = ctx.now();
  const { runs, artifacts } = await collectRuns(ctx, settings, now);
  const q = ctx.db.kysely;

  // Step 2: blobs nothing references (an upload never committed, a run's files after its records went).
  let batch: string[] = [];
  const sweep = async () => {
    const refs = await referenced(q, batch);
    await addCandidates(q, batch.filter((s) => !refs.has(s)), now);
    batch = [];
  };
  for await (const b of store.list()) {
    batch.push(b.sha256);
    if (batch.length >= CHUNK) await sweep();
  }
  if (batch.length > 0) await sweep();

  // Step 3: candidates still unreferenced after the grace time.
  let blobs = 0;
  const due = await q.selectFrom('blob_candidates').selectAll().where('since', '<=', now - settings.graceMs).orderBy('since').limit(10_000).execute();
  const refs = await referenced(q, due.map((c) => c.sha256));
  for (const c of due) {
    if (refs.has(c.sha256)) {
      await q.deleteFrom('blob_candidates').where('sha256', '=', c.sha256).execute();
      continue;
    }
    // Claimed by removing the candidate: a client that asked for this blob meanwhile (`missing`) removed it first.
    const claimed = await q.deleteFrom('blob_candidates').where('sha256', '=', c.sha256).where('since', '=', c.since).executeTakeFirst();
    if (Number(claimed.numDeletedRows) !== 1) continue;
    await store.delete(c.sha256);
    blobs++;
  }
  return { runs, artifacts, blobs };
}
