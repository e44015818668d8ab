/**
 * Network needs (docs/network.md): the worker's report of its checks (scope worker) and `kairos doctor`'s
 * answer (GET /api/v1/doctor). The doctor fields are documented in docs/network.md for monitoring.
 */
import { z } from 'zod';
import { ENDPOINT_RESULTS } from '../../model/network.js';
import { workerBodies } from '../../protocol/worker.js';
import { isoTime, isoTimeOrNull, name, route } from './common.js';

const workerId = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9@._:-]{1,80}$/, 'must be 1-80 characters of letters, digits, @ . _ : -').describe('worker id') });

/** One named check with its verdict: the server's, a place's, a registered `doctorChecks` entry's. */
export const doctorCheckSchema = z.strictObject({ name: z.string(), ok: z.boolean(), detail: z.string().nullable() }).meta({ id: 'DoctorCheck' });
export type DoctorCheckView = z.infer<typeof doctorCheckSchema>;

export const doctorCellSchema = z
  .strictObject({
    worker: z.string(),
    endpoint: z.string(),
    result: z.enum(ENDPOINT_RESULTS).nullable().describe('null: the worker did not answer, and never checked it before'),
    label: z.string(),
    latency_ms: z.number().nullable(),
    detail: z.string().nullable(),
    /** true: checked for this doctor; false: the worker's last report (it did not answer in time). */
    live: z.boolean(),
    checked_at: isoTimeOrNull,
  })
  .meta({ id: 'DoctorCell' });

export const doctorWorkerSchema = z
  .strictObject({
    id: z.string(),
    host: z.string(),
    pools: z.array(z.string()),
    version: z.string(),
    alive: z.boolean(),
    answered: z.boolean().describe('it answered the live probe'),
    place: z.string().nullable(),
    offers: z.record(z.string(), z.unknown()).nullable(),
    clock_offset_ms: z.number().nullable().describe("the worker's clock minus the server's (one-way, so within the network's delay)"),
    place_health: z.array(doctorCheckSchema),
    ok: z.boolean(),
  })
  .meta({ id: 'DoctorWorker' });

export const doctorViewSchema = z
  .strictObject({
    ok: z.boolean().describe('false when anything below is wrong; `kairos doctor` then exits 1'),
    checked_at: isoTime,
    project: z.string().nullable(),
    server: z.strictObject({
      version: z.string(),
      dialect: z.string(),
      database_version: z.string().nullable(),
      database_clock_offset_ms: z.number().describe("the database's clock minus the server's (0 for SQLite)"),
      ok: z.boolean(),
    }),
    checks: z.array(doctorCheckSchema).describe('the registered doctor checks (database, disk, artifact store, package index…)'),
    workers: z.array(doctorWorkerSchema),
    network: z.strictObject({
      endpoints: z.array(z.strictObject({ endpoint: z.string(), jobs: z.array(z.string()) })),
      matrix: z.array(doctorCellSchema),
    }),
    problems: z.array(z.string()).describe('what is wrong, one sentence each'),
  })
  .meta({ id: 'Doctor' });
export type DoctorView = z.infer<typeof doctorViewSchema>;

export const networkRoutes = {
  report: route({
    method: 'post',
    path: '/api/v1/workers/:id/network',
    summary: "A worker's network checks: an attempt's preflight (and what it waits for), or its answer to a doctor probe",
    params: workerId,
    body: workerBodies.network.request,
    responses: { 200: { description: 'ok', schema: workerBodies.network.response } },
  }),
  doctor: route({
    method: 'get',
    path: '/api/v1/doctor',
    summary: 'Is everything here right? The server, its database, the workers, their places, and the live matrix of workers × endpoints the jobs need',
    query: z.strictObject({ project: name.optional() }),
    responses: { 200: { description: 'the diagnosis (ok false when something is wrong)', schema: doctorViewSchema } },
  }),
} as const;


