/** The worker protocol over HTTP (scope worker): the bodies are the protocol's own schemas (src/protocol/worker.ts). */
import { z } from 'zod';
import { workerBodies } from '../../protocol/worker.js';
import { route } from './common.js';

const workerId = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9@._:-]{1,80}$/, 'must be 1-80 characters of letters, digits, @ . _ : -').describe('worker id') });
const staleLease = { 409: 'stale_lease: the lease is no longer this worker’s (expired, or the attempt was given to another)' } as const;

/**
 * Worker reports carry batches of log lines (up to 4,000 lines of up to 16 KiB each per attempt, several
 * attempts in one `logs-many`) and an attempt's outputs: far more than an ordinary request.
 */
export const WORKER_REPORT_BYTES = 512 * 1024 * 1024;

export const workerRoutes = {
  register: route({
    method: 'post',
    path: '/api/v1/workers',
    summary: 'Register (or re-register) a worker; the answer says the lease length',
    body: workerBodies.register.request,
    responses: { 200: { description: 'registered', schema: workerBodies.register.response } },
  }),
  recover: route({
    method: 'post',
    path: '/api/v1/workers/:id/recover',
    summary: 'Attempts of live runs this worker held before it restarted (to kill and give up)',
    params: workerId,
    body: workerBodies.recover.request,
    responses: { 200: { description: 'attempts', schema: workerBodies.recover.response } },
  }),
  claim: route({
    method: 'post',
    path: '/api/v1/workers/:id/claim',
    summary: 'Claim up to `max` queued runs of these pools; long-polls up to `wait_ms` for one to arrive',
    params: workerId,
    body: workerBodies.claim.request,
    responses: { 200: { description: 'assignments (maybe none)', schema: workerBodies.claim.response } },
  }),
  heartbeat: route({
    method: 'post',
    path: '/api/v1/workers/:id/heartbeat',
    summary: "Renew the worker's leases; the answer names leases refused and runs to cancel",
    params: workerId,
    body: workerBodies.heartbeat.request,
    responses: { 200: { description: 'refused leases and cancels', schema: workerBodies.heartbeat.response } },
  }),
  stop: route({
    method: 'post',
    path: '/api/v1/workers/:id/stop',
    summary: 'The worker is going away',
    params: workerId,
    body: workerBodies.stop.request,
    responses: { 200: { description: 'ok', schema: workerBodies.stop.response } },
  }),
  started: route({
    method: 'post',
    path: '/api/v1/leases/started',
    summary: "An attempt's process started",
    body: workerBodies.started.request,
    responses: { 200: { description: 'ok', schema: workerBodies.started.response } },
    errors: staleLease,
  }),
  logs: route({
    method: 'post',
    path: '/api/v1/leases/logs',
    summary: 'Log lines of one attempt',
    maxBodyBytes: WORKER_REPORT_BYTES,
    body: workerBodies.logs.request,
    responses: { 200: { description: 'ok', schema: workerBodies.logs.response } },
    errors: staleLease,
  }),
  logsMany: route({
    method: 'post',
    path: '/api/v1/leases/logs-many',
    summary: 'Log lines of several attempts in one transaction; the answer names the stale leases',
    maxBodyBytes: WORKER_REPORT_BYTES,
    body: workerBodies.logsMany.request,
    responses: { 200: { description: 'stale leases', schema: workerBodies.logsMany.response } },
  }),
  finish: route({
    method: 'post',
    path: '/api/v1/leases/finish',
    summary: "An attempt's end (outcome, exit code, metrics, artifacts); with `next`, claims the worker's next runs in the same exchange",
    maxBodyBytes: WORKER_REPORT_BYTES,
    body: workerBodies.finish.request,
    responses: { 200: { description: 'next assignments', schema: workerBodies.finish.response } },
    errors: staleLease,
  }),
  abandon: route({
    method: 'post',
    path: '/api/v1/leases/abandon',
    summary: 'Give an attempt up as lost (its process is gone); the run is retried or failed by policy',
    body: workerBodies.abandon.request,
    responses: { 200: { description: 'ok', schema: workerBodies.abandon.response } },
    errors: staleLease,
  }),
  bundle: route({
    method: 'get',
    path: '/api/v1/bundles/:hash',
    summary: "A deployment's bundle as a stream of entries (JSON header line, then the bytes)",
    params: z.strictObject({ hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a bundle hash (64 hex digits)') }),
    query: z.strictObject({}),
    responses: { 200: { description: 'the bundle', contentType: 'application/x-kairos-bundle' } },
  }),
} as const;
