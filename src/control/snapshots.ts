/**
 * Data snapshots and run inputs on the control plane (docs/snapshots.md): blobs a client is about to upload,
 * committing a snapshot version (its id is the hash of its file list, so the same content is the same
 * version), listing them, and resolving a run's `inputs` to exact files: once per run (the pin, attempt 0),
 * reused by its retries and copied by a rerun, and recorded with every attempt.
 */
import type { ArtifactStore } from '../artifacts/store.js';
import { KairosError } from '../model/errors.js';
import { fileListDigest, safeRelativePath, SNAPSHOT_NAME, SNAPSHOT_NAME_RULE, type FileEntry, type InputSpec, type ResolvedInput } from '../model/inputs.js';
import type { LeaseRef } from '../protocol/worker.js';
import type { Q } from '../store/runs.js';
import type { Ctx } from './context.js';
import { requireLease } from './dispatch/leases.js';
import { pipelineInputs } from './pipelines.js';

/** The most files one snapshot version may hold. */
export const SNAPSHOT_MAX_FILES = 100_000;

/** Of `shas`, the blobs the store lacks. The others are kept from the collector (they are about to be used). */
export async function missingBlobs(ctx: Ctx, store: ArtifactStore, shas: readonly string[]): Promise<string[]> {
  const unique = [...new Set(shas)];
  const missing: string[] = [];
  for (const sha of unique) if ((await store.head(sha)) === null) missing.push(sha);
  const present = unique.filter((s) => !missing.includes(s));
  for (let i = 0; i < present.length; i += 500) await ctx.db.kysely.deleteFrom('blob_candidates').where('sha256', 'in', present.slice(i, i + 500)).execute();
  return missing;
}

export interface SnapshotCommit {
  readonly project: string;
  readonly name: string;
  readonly kind: 'file' | 'dir';
  readonly files: readonly FileEntry[];
  readonly by: string;
}

export interface SnapshotVersionView {
  readonly project: string;
  readonly name: string;
  readonly version: string;
  readonly kind: string;
  readonly files: number;
  readonly size: number;
  readonly created_at: number;
  readonly created_by: string;
}

function checkCommit(c: SnapshotCommit): FileEntry[] {
  if (!SNAPSHOT_NAME.test(c.name)) throw new KairosError('invalid_input', `"${c.name}" is not a snapshot name: use ${SNAPSHOT_NAME_RULE}`);
  if (c.files.length > SNAPSHOT_MAX_FILES) throw new KairosError('invalid_input', `a snapshot holds at most ${SNAPSHOT_MAX_FILES} files; this one has ${c.files.length}`);
  if (c.kind === 'file' && c.files.length !== 1) throw new KairosError('invalid_input', `a snapshot of kind "file" holds exactly one file, not ${c.files.length}`);
  const seen = new Set<string>();
  const files: FileEntry[] = [];
  for (const f of c.files) {
    const path = safeRelativePath(f.path);
    if (path === null) throw new KairosError('invalid_input', `"${f.path.slice(0, 200)}" is not a relative path inside the snapshot (no "..", no leading "/", no empty segment)`);
    if (seen.has(path)) throw new KairosError('invalid_input', `the path "${path}" appears twice`);
    seen.add(path);
    files.push({ path, sha256: f.sha256, size: f.size });
  }
  // A file and a folder of the same name cannot both be placed under KAIROS_INPUTS/NAME.
  for (const p of seen) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) if (seen.has(parts.slice(0, i).join('/'))) throw new KairosError('invalid_input', `"${parts.slice(0, i).join('/')}" is both a file and a folder`);
  }
  return files;
}

/** Commits a version; the same file list again is the same version (created: false) and stores nothing. */
export async function commitSnapshot(ctx: Ctx, store: ArtifactStore, c: SnapshotCommit): Promise<{ version: SnapshotVersionView; created: boolean }> {
  const files = checkCommit(c);
  const absent: string[] = [];
  for (const f of files) {
    const have = await store.head(f.sha256);
    if (have === null || have.size !== f.size) absent.push(f.sha256);
  }
  if (absent.length > 0) throw new KairosError('conflict', `${absent.length} of the snapshot's files are not uploaded yet (first: ${absent[0]}); upload them, then commit again`, { missing: absent.slice(0, 1000) });
  const version = fileListDigest(c.kind, files);
  const now = ctx.now();
  return ctx.db.tx(async (trx) => {
    const existing = await trx.selectFrom('snapshot_versions').selectAll().where('project', '=', c.project).where('name', '=', c.name).where('version', '=', version).executeTakeFirst();
    if (existing) return { version: versionView(existing), created: false };
    const row = { project: c.project, name: c.name, version, kind: c.kind, files: files.length, size: files.reduce((s, f) => s + f.size, 0), created_at: now, created_by: c.by };
    await trx.insertInto('snapshot_versions').values(row).execute();
    for (let i = 0; i < files.length; i += 500) {
      await trx.insertInto('snapshot_files').values(files.slice(i, i + 500).map((f) => ({ project: c.project, name: c.name, version, ...f }))).execute();
    }
    return { version: versionView(row), created: true };
  });
}

function versionView(r: { project: string; name: string; version: string; kind: string; files: number; size: number | string; created_at: number | string; created_by: string }): SnapshotVersionView {
  return { project: r.project, name: r.name, version: r.version, kind: r.kind, files: Number(r.files), size: Number(r.size), created_at: Number(r.created_at), created_by: r.created_by };
}

/** Versions, newest first; `project` null means every project. */
export async function listSnapshotVersions(q: Q, opts: { project: string | null; name?: string; limit: number }): Promise<SnapshotVersionView[]> {
  let sel = q.selectFrom('snapshot_versions').selectAll();
  if (opts.project !== null) sel = sel.where('project', '=', opts.project);
  if (opts.name !== undefined) sel = sel.where('name', '=', opts.name);
  const rows = await sel.orderBy('project').orderBy('name').orderBy('created_at', 'desc').orderBy('version').limit(opts.limit).execute();
  return rows.map(versionView);
}

/** A snapshot version named by `latest` or a unique prefix of its id. */
async function findVersion(q: Q, project: string, name: string, version: string): Promise<{ version: string; kind: string }> {
  let sel = q.selectFrom('snapshot_versions').select(['version', 'kind']).where('project', '=', project).where('name', '=', name);
  if (version !== 'latest') sel = sel.where('version', 'like', `${version}%`);
  const rows = await sel.orderBy('created_at', 'desc').orderBy('version', 'desc').limit(version === 'latest' ? 1 : 2).execute();
  const [first] = rows;
  if (!first) {
    throw new KairosError('not_found', version === 'latest' ? `project ${project} has no snapshot "${name}" (push one with: kairos snapshot push ${name} PATH)` : `snapshot "${name}" of project ${project} has no version ${version}`);
  }
  if (rows.length > 1) throw new KairosError('invalid_input', `version ${version} of snapshot "${name}" is ambiguous: give more of its digits`);
  return first;
}

async function resolveOne(q: Q, project: string, runId: string, spec: InputSpec): Promise<ResolvedInput> {
  if (spec.source === 'snapshot') {
    const v = await findVersion(q, project, spec.snapshot, spec.version);
    const files = await q.selectFrom('snapshot_files').select(['path', 'sha256', 'size']).where('project', '=', project).where('name', '=', spec.snapshot).where('version', '=', v.version).orderBy('path').execute();
    const kind = v.kind === 'file' ? 'file' : 'dir';
    return { name: spec.name, source: 'snapshot', ref: spec.ref, resolved: v.version, kind, digest: v.version, files: files.map((f) => ({ ...f, size: Number(f.size) })) };
  }
  const run = await q
    .selectFrom('runs')
    .select(['id', 'attempt'])
    .where('project', '=', project)
    .where('job', '=', spec.job)
    .where('state', '=', 'succeeded')
    .where('id', '<>', runId)
    .orderBy('finished_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!run) throw new KairosError('not_found', `input ${spec.name}: job ${spec.job} of project ${project} has no succeeded run`);
  const arts = await q.selectFrom('artifacts').select(['path', 'sha256', 'size', 'stored']).where('run_id', '=', run.id).where('attempt', '=', run.attempt).orderBy('path').execute();
  const exact = arts.find((a) => a.path === spec.path);
  const prefix = `${spec.path}/`;
  const unstored = arts.find((a) => (a.path === spec.path || a.path.startsWith(prefix)) && Number(a.stored) !== 1);
  if (unstored) throw new KairosError('not_found', `input ${spec.name}: artifact ${unstored.path} of run ${run.id} was not kept in the artifact store (see that run's log: over its artifact limits?)`);
  const files: FileEntry[] = exact
    ? [{ path: spec.path.split('/').pop() ?? spec.path, sha256: exact.sha256, size: Number(exact.size) }]
    : arts.filter((a) => a.path.startsWith(prefix)).map((a) => ({ path: a.path.slice(prefix.length), sha256: a.sha256, size: Number(a.size) }));
  if (files.length === 0) throw new KairosError('not_found', `input ${spec.name}: run ${run.id} of job ${spec.job} left no artifact ${spec.path}`);
  const kind = exact ? 'file' : 'dir';
  return { name: spec.name, source: 'run', ref: spec.ref, resolved: run.id, kind, digest: fileListDigest(kind, files), files };
}

async function readPin(q: Q, runId: string): Promise<ResolvedInput[] | null> {
  const rows = await q.selectFrom('run_inputs').selectAll().where('run_id', '=', runId).where('attempt', '=', 0).orderBy('name').execute();
  if (rows.length === 0) return null;
  const files = await q.selectFrom('run_input_files').select(['name', 'path', 'sha256', 'size']).where('run_id', '=', runId).orderBy('name').orderBy('path').execute();
  return rows.map((r) => ({
    name: r.name,
    source: r.source === 'run' ? 'run' : 'snapshot',
    ref: r.ref,
    resolved: r.resolved,
    kind: r.kind === 'file' ? 'file' : 'dir',
    digest: r.digest,
    files: files.filter((f) => f.name === r.name).map((f) => ({ path: f.path, sha256: f.sha256, size: Number(f.size) })),
  }));
}

function summaryRow(runId: string, attempt: number, i: ResolvedInput) {
  return { run_id: runId, attempt, name: i.name, source: i.source, ref: i.ref, resolved: i.resolved, kind: i.kind, digest: i.digest, files: i.files.length, size: i.files.reduce((s, f) => s + f.size, 0) };
}

async function writePin(trx: Q, runId: string, inputs: readonly ResolvedInput[]): Promise<void> {
  for (const i of inputs) {
    await trx.insertInto('run_inputs').values(summaryRow(runId, 0, i)).execute();
    for (let k = 0; k < i.files.length; k += 500) {
      await trx.insertInto('run_input_files').values(i.files.slice(k, k + 500).map((f) => ({ run_id: runId, name: i.name, ...f }))).execute();
    }
  }
}

/**
 * The exact files an attempt reads: the run's pin when it has one (a retry, a rerun), else its `inputs`
 * resolved now and pinned. Recorded with the attempt. An input that cannot be found is a not_found error
 * (the worker fails the attempt with it).
 */
export async function resolveAttemptInputs(ctx: Ctx, lease: LeaseRef): Promise<ResolvedInput[]> {
  return ctx.db.tx(async (trx) => {
    const { run } = await requireLease(trx, lease);
    let inputs = await readPin(trx, run.id);
    if (inputs === null) {
      const manifest = await ctx.manifestOf(run.deployment_id, trx);
      const specs = manifest.jobs[run.job]?.inputs ?? [];
      inputs = [];
      for (const spec of specs) inputs.push(await resolveOne(trx, run.project, run.id, spec));
      // A pipeline step reads the artifacts of the steps it needs (KAIROS_INPUTS/<step>/).
      for (const i of await pipelineInputs(ctx, trx, run)) if (!inputs.some((x) => x.name === i.name)) inputs.push(i);
      await writePin(trx, run.id, inputs);
    }
    await trx.deleteFrom('run_inputs').where('run_id', '=', run.id).where('attempt', '=', lease.attempt).execute();
    for (const i of inputs) await trx.insertInto('run_inputs').values(summaryRow(run.id, lease.attempt, i)).execute();
    return inputs;
  });
}

/** A rerun reads what the original read: its pin is copied (inside the rerun's transaction). */
export async function copyInputPin(trx: Q, fromRunId: string, toRunId: string): Promise<void> {
  const pin = await readPin(trx, fromRunId);
  if (pin !== null) await writePin(trx, toRunId, pin);
}

export interface RunInputView {
  readonly attempt: number;
  readonly name: string;
  readonly source: string;
  readonly ref: string;
  readonly resolved: string;
  readonly kind: string;
  readonly digest: string;
  readonly files: number;
  readonly size: number;
}

/** What each attempt of a run read (attempt 0 is the run's pin). */
export async function runInputs(q: Q, runId: string): Promise<RunInputView[]> {
  const rows = await q.selectFrom('run_inputs').selectAll().where('run_id', '=', runId).orderBy('attempt').orderBy('name').execute();
  return rows.map((r) => ({ attempt: r.attempt, name: r.name, source: r.source, ref: r.ref, resolved: r.resolved, kind: r.kind, digest: r.digest, files: Number(r.files), size: Number(r.size) }));
}
