/**
 * Data snapshots and run inputs (docs/snapshots.md): blobs a client uploads (content-addressed, checked
 * against their SHA-256), committing and listing snapshot versions, what each attempt of a run read, and the
 * two worker routes that resolve an attempt's inputs and fetch their bytes.
 */
import { z } from 'zod';
import { leaseRefSchema } from '../../protocol/worker.js';
import { LIMITS, isoTime, name, pathName, queryInt, route } from './common.js';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 (64 lowercase hex digits)');
const snapshotName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,62}$/, 'must be a letter, then up to 62 letters, digits, "_" or "-"');
/** The most files one version lists (src/control/snapshots.ts SNAPSHOT_MAX_FILES). */
const MAX_FILES = 100_000;
/** A commit of 100,000 files is a few MiB of JSON. */
export const SNAPSHOT_COMMIT_BYTES = 64 * 1024 * 1024;

export const fileEntrySchema = z
  .strictObject({
    path: z.string().min(1).max(LIMITS.text).describe('relative path inside the snapshot, "/"-separated'),
    sha256,
    size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .meta({ id: 'SnapshotFile' });

export const snapshotVersionSchema = z
  .strictObject({
    project: z.string(),
    name: z.string(),
    version: z.string().describe('the SHA-256 of the file list: the same content is the same version'),
    kind: z.enum(['file', 'dir']).describe('file: one file, placed at KAIROS_INPUTS/NAME; dir: a folder'),
    files: z.number().int(),
    size: z.number().int(),
    created_at: isoTime,
    created_by: z.string(),
    latest: z.boolean().describe('the version `NAME@latest` names now'),
  })
  .meta({ id: 'SnapshotVersion' });
export type SnapshotVersionViewJson = z.infer<typeof snapshotVersionSchema>;

export const resolvedInputSchema = z
  .strictObject({
    name: z.string(),
    source: z.enum(['snapshot', 'run']),
    ref: z.string(),
    resolved: z.string().describe('the snapshot version, or the run whose artifact is read'),
    kind: z.enum(['file', 'dir']),
    digest: sha256.describe('SHA-256 of the file list'),
    files: z.array(fileEntrySchema).max(MAX_FILES),
  })
  .meta({ id: 'ResolvedInput' });

export const runInputSchema = z
  .strictObject({
    attempt: z.number().int().describe('0: the run\'s pin (resolved once, reused by retries, copied by a rerun)'),
    name: z.string(),
    source: z.string().describe('snapshot or run'),
    ref: z.string().describe('as written in the manifest, e.g. sales@latest'),
    resolved: z.string(),
    kind: z.string(),
    digest: z.string(),
    files: z.number().int(),
    size: z.number().int(),
  })
  .meta({ id: 'RunInput' });

export const snapshotRoutes = {
  list: route({
    method: 'get',
    path: '/api/v1/snapshots',
    summary: 'Snapshot versions, newest first (of the caller\'s project for a project-limited token)',
    query: z.strictObject({
      project: name.optional(),
      name: snapshotName.optional(),
      limit: queryInt(1, 10_000).optional().describe('at most this many versions (default 1000)'),
    }),
    responses: { 200: { description: 'versions', schema: z.strictObject({ snapshots: z.array(snapshotVersionSchema) }) } },
  }),
  missing: route({
    method: 'post',
    path: '/api/v1/blobs/missing',
    summary: 'Of these SHA-256s, the blobs the server lacks (upload those, then commit)',
    body: z.strictObject({ blobs: z.array(sha256).max(MAX_FILES) }),
    maxBodyBytes: SNAPSHOT_COMMIT_BYTES,
    responses: { 200: { description: 'the missing ones', schema: z.strictObject({ missing: z.array(z.string()) }) } },
  }),
  putBlob: route({
    method: 'post',
    path: '/api/v1/blobs/:hash',
    summary: 'Upload one blob: the body is its bytes, refused (nothing kept) unless they hash to the SHA-256 in the path',
    params: z.strictObject({ hash: sha256 }),
    query: z.strictObject({}),
    rawBody: { contentType: 'application/octet-stream', description: 'the bytes' },
    responses: { 200: { description: 'stored (or already there)', schema: z.strictObject({ sha256: z.string(), size: z.number().int() }) } },
  }),
  commit: route({
    method: 'post',
    path: '/api/v1/snapshots/:name',
    summary: 'Commit a snapshot version from uploaded blobs; the same file list again is the same version (200)',
    params: z.strictObject({ name: pathName.describe('snapshot name') }),
    body: z.strictObject({
      project: name.optional().describe("the project (default: the token's, or the only deployed one)"),
      kind: z.enum(['file', 'dir']),
      files: z.array(fileEntrySchema).min(1).max(MAX_FILES),
    }),
    maxBodyBytes: SNAPSHOT_COMMIT_BYTES,
    responses: {
      201: { description: 'a new version', schema: snapshotVersionSchema.extend({ created: z.boolean() }) },
      200: { description: 'this content is already that version', schema: snapshotVersionSchema.extend({ created: z.boolean() }) },
    },
    errors: { 409: 'conflict: some blobs are not uploaded yet (details.missing)' },
  }),
  runInputs: route({
    method: 'get',
    path: '/api/v1/runs/:id/inputs',
    summary: 'What each attempt of a run read through `inputs`: exact snapshot versions and run artifacts',
    params: z.strictObject({ id: pathName.describe('run id') }),
    query: z.strictObject({}),
    responses: { 200: { description: 'inputs by attempt', schema: z.strictObject({ inputs: z.array(runInputSchema) }) } },
  }),
  resolveInputs: route({
    method: 'post',
    path: '/api/v1/leases/inputs',
    summary: "Worker: the exact files of an attempt's inputs (resolved and pinned on the first attempt), recorded with the attempt",
    body: z.strictObject({ lease: leaseRefSchema }),
    responses: { 200: { description: 'the inputs', schema: z.strictObject({ inputs: z.array(resolvedInputSchema) }) } },
    errors: { 409: 'stale_lease' },
  }),
  getBlob: route({
    method: 'get',
    path: '/api/v1/blobs/:hash',
    summary: 'Worker: the bytes of one blob (an input file)',
    params: z.strictObject({ hash: sha256 }),
    query: z.strictObject({}),
    responses: { 200: { description: 'the bytes', contentType: 'application/octet-stream' } },
  }),
} as const;
