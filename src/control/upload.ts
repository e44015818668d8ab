/**
 * A deploy from anywhere: a bundle stream uploaded to the server is received into a staging folder under
 * the data directory (strict checks in bundle-stream.ts: paths, links, sizes, counts, checksums), its
 * manifest is compiled there, and only then is the bundle moved into place and activated as a new version.
 * Any failure leaves nothing behind: no bundle, no version, no schedule change.
 */
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { compileManifestText, formatProblem, MANIFEST_FILE_NAME, type CompiledManifest } from '../manifest/index.js';
import { KairosError } from '../model/errors.js';
import { newId } from '../model/ids.js';
import { bundleDir } from '../bundle/bundle.js';
import { BUNDLE_LIMITS, receiveBundle, type BundleLimits } from '../bundle/stream.js';
import type { Ctx } from './context.js';
import { activateBundle, type DeployMeta, type DeployOutcome } from './deployments.js';

export interface UploadRequest {
  readonly hash: string;
  readonly limits?: BundleLimits;
  readonly meta: DeployMeta;
  readonly source: string;
  /** Throws when the caller may not deploy this project. */
  readonly authorize: (project: string) => void;
}

/** Limits from KAIROS_BUNDLE_MAX_FILES / KAIROS_BUNDLE_MAX_BYTES (whole bundle) when set. */
export function limitsFromEnv(env: NodeJS.ProcessEnv): BundleLimits {
  const n = (name: string, dflt: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const v = Number(raw);
    if (!Number.isInteger(v) || v < 1) throw new KairosError('invalid_input', `${name} must be a positive integer, got "${raw}"`);
    return v;
  };
  const maxBytes = n('KAIROS_BUNDLE_MAX_BYTES', BUNDLE_LIMITS.maxBytes);
  return { maxFiles: n('KAIROS_BUNDLE_MAX_FILES', BUNDLE_LIMITS.maxFiles), maxBytes, maxFileBytes: Math.min(maxBytes, BUNDLE_LIMITS.maxFileBytes) };
}

export async function deployUpload(ctx: Ctx, body: AsyncIterable<Buffer>, req: UploadRequest): Promise<DeployOutcome & { manifest: CompiledManifest }> {
  if (!/^[0-9a-f]{64}$/.test(req.hash)) throw new KairosError('invalid_input', 'query parameter "hash" must be the bundle\'s SHA-256 (64 hex digits)');
  const staging = join(ctx.settings.dataDir, 'uploads', newId());
  await mkdir(staging, { recursive: true });
  try {
    const received = await receiveBundle(body, staging, req.hash, req.limits ?? BUNDLE_LIMITS);
    let text: string;
    try {
      text = await readFile(join(received, MANIFEST_FILE_NAME), 'utf8');
    } catch {
      throw new KairosError('invalid_manifest', `the bundle has no ${MANIFEST_FILE_NAME} at its root`, { errors: [`${MANIFEST_FILE_NAME}: no such file in the bundle`] });
    }
    const result = compileManifestText(text, MANIFEST_FILE_NAME);
    if (!result.ok) {
      const errors = result.problems.map(formatProblem);
      throw new KairosError('invalid_manifest', `${MANIFEST_FILE_NAME} has ${errors.length} problem${errors.length === 1 ? '' : 's'}`, { errors });
    }
    req.authorize(result.manifest.project);
    const dest = bundleDir(ctx.settings.dataDir, req.hash);
    await mkdir(join(ctx.settings.dataDir, 'bundles'), { recursive: true });
    const exists = await stat(dest).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await rename(received, dest).catch((err: NodeJS.ErrnoException) => {
        // Another upload of the same content won the race: same hash, same files.
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
      });
    }
    const outcome = await activateBundle(ctx, req.hash, result.manifest, req.source, req.meta);
    return { ...outcome, manifest: result.manifest };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
