/**
 * Artifacts: a run's files kept in the artifact store (list, download with Range), and the two worker routes
 * by which an ended attempt's files reach the store.
 */
import { z } from 'zod';
import { artifactSchema, artifactsWantedSchema, leaseRefSchema, PROTOCOL_LIMITS } from '../../protocol/worker.js';
import { isoTimeOrNull, pathName, route } from './common.js';
import { WORKER_REPORT_BYTES } from './workers.js';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 (64 lowercase hex digits)');

export const artifactViewSchema = z
  .strictObject({
    attempt: z.number().int(),
    path: z.string(),
    size: z.number().int(),
    sha256: z.string(),
    content_type: z.string(),
    /** False for artifacts recorded before the store existed (their bytes stayed on the worker). */
    stored: z.boolean(),
    /** Where to download it (relative to the server). */
    url: z.string(),
  })
  .meta({ id: 'Artifact' });
export type ArtifactView = z.infer<typeof artifactViewSchema>;

const runId = z.strictObject({ id: pathName.describe('run id') });

export const artifactRoutes = {
  list: route({
    method: 'get',
    path: '/api/v1/runs/:id/artifacts',
    summary: "A run's artifacts (every attempt's; the latest attempt's file wins a path), with where to download each",
    params: runId,
    query: z.strictObject({ attempt: z.string().regex(/^[1-9][0-9]{0,6}$/, 'must be an attempt number').optional().describe('only this attempt') }),
    responses: { 200: { description: 'artifacts', schema: z.strictObject({ artifacts: z.array(artifactViewSchema), finished_at: isoTimeOrNull.optional() }) } },
  }),
  download: route({
    method: 'get',
    path: '/api/v1/runs/:id/artifacts/:path{.+}',
    summary: "One artifact's bytes (the latest attempt's), with its Content-Type; `Range: bytes=…` for a part",
    params: z.strictObject({ id: pathName.describe('run id'), path: z.string().min(1).max(900).describe("the artifact's path (slashes allowed)") }),
    query: z.strictObject({ attempt: z.string().regex(/^[1-9][0-9]{0,6}$/, 'must be an attempt number').optional().describe('that attempt'), download: z.enum(['0', '1']).optional().describe('1: Content-Disposition attachment') }),
    responses: {
      200: { description: 'the bytes', contentType: 'application/octet-stream' },
      206: { description: 'the range asked for', contentType: 'application/octet-stream' },
    },
    errors: { 416: 'invalid_input: the range is outside the file', 409: 'conflict: recorded before the artifact store, its bytes are not on the server' },
  }),
  wanted: route({
    method: 'post',
    path: '/api/v1/leases/artifacts',
    summary: "An ended attempt's artifacts: the answer says which blobs to send and what is not kept (limits)",
    maxBodyBytes: WORKER_REPORT_BYTES,
    body: z.strictObject({ lease: leaseRefSchema, artifacts: z.array(artifactSchema).max(PROTOCOL_LIMITS.outputs) }),
    responses: { 200: { description: 'blobs to send', schema: artifactsWantedSchema } },
    errors: { 409: 'stale_lease' },
  }),
  upload: route({
    method: 'post',
    path: '/api/v1/leases/artifacts/:hash',
    summary: "One artifact's bytes, checked against its SHA-256 and size before it is kept",
    params: z.strictObject({ hash: sha256 }),
    query: z.strictObject({
      run: pathName,
      attempt: z.string().regex(/^[1-9][0-9]{0,6}$/, 'must be an attempt number'),
      lease: pathName.describe('the lease token'),
      size: z.string().regex(/^[0-9]{1,16}$/, 'must be a byte count'),
    }),
    rawBody: { contentType: 'application/octet-stream', description: "the file's bytes" },
    responses: { 200: { description: 'kept', schema: z.strictObject({ sha256: z.string(), size: z.number().int() }) } },
    errors: { 409: 'stale_lease', 400: 'invalid_input: the bytes do not match the SHA-256 or size' },
  }),
};
