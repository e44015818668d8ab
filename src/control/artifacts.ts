/**
 * Artifacts on the server side: which of an ended attempt's files the server wants (limits applied, blobs it
 * already has skipped), receiving their bytes into the artifact store, and the rows finish records.
 */
import type { Readable } from 'node:stream';
import type { ArtifactStore, BlobInfo } from '../artifacts/store.js';
import { applyLimits, contentTypeOf, DEFAULT_ARTIFACT_LIMITS, type ArtifactEntry, type ArtifactLimits } from '../artifacts/policy.js';
import { KairosError } from '../model/errors.js';
import type { Artifact, ArtifactsWanted, LeaseRef } from '../protocol/worker.js';
import type { Ctx } from './context.js';
import { requireLease } from './dispatch/leases.js';

export function limitsOf(ctx: Ctx): ArtifactLimits {
  return ctx.settings.artifactLimits ?? DEFAULT_ARTIFACT_LIMITS;
}

/** Files and bytes the run already keeps from its other attempts. */
async function alreadyKept(ctx: Ctx, runId: string, attempt: number): Promise<{ files: number; bytes: number }> {
  const rows = await ctx.db.kysely.selectFrom('artifacts').select(['size']).where('run_id', '=', runId).where('attempt', '<>', attempt).execute();
  return { files: rows.length, bytes: rows.reduce((s, r) => s + Number(r.size), 0) };
}

/** What the server keeps of these artifacts (limits), and the blobs among them the store does not have yet. */
export async function artifactsWanted(ctx: Ctx, lease: LeaseRef, artifacts: readonly Artifact[]): Promise<ArtifactsWanted> {
  await ctx.db.tx((trx) => requireLease(trx, lease));
  const decision = applyLimits(artifacts, limitsOf(ctx), await alreadyKept(ctx, lease.runId, lease.attempt));
  const store = ctx.artifactStore;
  const upload = new Set<string>();
  for (const a of decision.kept) {
    if (upload.has(a.sha256)) continue;
    const have = await store.head(a.sha256);
    if (!have || have.size !== a.size) upload.add(a.sha256);
  }
  return { upload: [...upload], refused: decision.refused, message: decision.message };
}

/** The bytes of one blob, from a worker holding the attempt; checked against the hash and size it named. */
export async function receiveArtifact(ctx: Ctx, lease: LeaseRef, info: BlobInfo, body: Readable): Promise<BlobInfo> {
  await ctx.db.tx((trx) => requireLease(trx, lease));
  if (info.size > limitsOf(ctx).maxBytes) throw new KairosError('invalid_input', `artifact of ${info.size} bytes is over the per-run limit of ${limitsOf(ctx).maxBytes}`);
  return ctx.artifactStore.putStream(body, info);
}

/** The in-process worker's path: the file is on this machine, so the store reads it directly. */
export async function storeArtifactFile(ctx: Ctx, lease: LeaseRef, info: BlobInfo, file: string): Promise<void> {
  await ctx.db.tx((trx) => requireLease(trx, lease));
  await ctx.artifactStore.putFile(file, info);
}

export interface ArtifactRow extends ArtifactEntry {
  content_type: string;
  stored: number;
}

/** The rows finish writes: the artifacts within the limits, each with its content type and whether the store holds it. */
export async function artifactRows(ctx: Ctx, lease: LeaseRef, artifacts: readonly Artifact[]): Promise<ArtifactRow[]> {
  if (artifacts.length === 0) return [];
  const decision = applyLimits(artifacts, limitsOf(ctx), await alreadyKept(ctx, lease.runId, lease.attempt));
  const held = new Map<string, boolean>();
  const rows: ArtifactRow[] = [];
  for (const a of decision.kept) {
    let stored = held.get(a.sha256);
    if (stored === undefined) {
      const have = await ctx.artifactStore.head(a.sha256).catch(() => null);
      stored = have !== null && have.size === a.size;
      held.set(a.sha256, stored);
    }
    rows.push({ path: a.path, size: a.size, sha256: a.sha256, content_type: contentTypeOf(a.path), stored: stored ? 1 : 0 });
  }
  return rows;
}
