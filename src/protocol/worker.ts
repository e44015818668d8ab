/**
 * What passes between the control plane and a worker. The same shapes travel in-process (kairos up) and over
 * HTTP for remote workers (src/api/worker-routes.ts): plain JSON data only. Each body is a zod schema; the
 * TypeScript types are inferred from it, and the HTTP routes parse every body through it (a malformed one is
 * a 400 `invalid_input`, never a 500). The OpenAPI document is generated from the same schemas.
 */
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { ResolvedInput } from '../model/inputs.js';
import type { CompiledEnvironment, CompiledJob, ParamValue } from '../model/job.js';
import { REASON_CODE_LIST, type ReasonCode } from '../model/reasons.js';
import { ENDPOINT_RESULTS } from '../model/network.js';

/** Bounds that keep one request from holding unbounded memory; far above what a real worker sends. */
export const PROTOCOL_LIMITS = {
  /** Characters of one log line (the worker splits lines at 16 KiB). */
  lineChars: 65_536,
  /** Lines in one report. */
  lines: 100_000,
  /** Attempts in one `logs-many` report. */
  items: 10_000,
  /** Leases in one heartbeat. */
  leases: 10_000,
  /** Metrics or artifacts in one result. */
  outputs: 100_000,
  /** Pools a worker serves. */
  pools: 100,
  /** Runs claimed at once, and a worker's capacity. */
  max: 10_000,
  /** A short text: an id, a name, a version, a host. */
  name: 300,
  /** A reason or a path. */
  text: 4096,
} as const;

/** The inferred types are read-only all the way down, as the hand-written interfaces before them were. */
export type DeepReadonly<T> = T extends (infer E)[] ? readonly DeepReadonly<E>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

const name = z.string().min(1).max(PROTOCOL_LIMITS.name);
const text = z.string().max(PROTOCOL_LIMITS.text);
const epochMs = z.number().int().min(0).max(8.64e15);

/** Proof that a worker holds an attempt. Every report carries it; a stale one is refused. */
export const leaseRefSchema = z
  .strictObject({
    runId: name,
    attempt: z.number().int().min(1).max(1_000_000),
    token: name,
  })
  .meta({ id: 'LeaseRef' });
export type LeaseRef = DeepReadonly<z.infer<typeof leaseRefSchema>>;

/** A container image as an attempt ran it: a reference any machine can pull (`repo@sha256:…`) and its digest. */
export const recordedImageSchema = z.strictObject({ ref: text.min(1), digest: name });

/** The environment an attempt ran in: its content hash and every package it held (and for an image, the image). */
export const recordedEnvironmentSchema = z.strictObject({
  hash: name,
  packages: z.array(z.strictObject({ name, version: name })).max(PROTOCOL_LIMITS.outputs),
  image: recordedImageSchema.optional(),
});
export type RecordedEnvironment = DeepReadonly<z.infer<typeof recordedEnvironmentSchema>>;

/**
 * A JSON object whose full shape is defined elsewhere (the compiled manifest, src/model/job.ts): the
 * server produces it, so it is typed here and described as an object in the OpenAPI document.
 */
function opaque<T>(description: string): z.ZodType<T> {
  return z.record(z.string(), z.unknown()).describe(description) as unknown as z.ZodType<T>;
}

export const assignmentSchema = z.strictObject({
  lease: leaseRefSchema,
  leaseMs: z.number().int(),
  run: z.strictObject({
    id: z.string(),
    project: z.string(),
    job: z.string(),
    trigger: z.string(),
    scheduledFor: z.number().nullable(),
    /** The zone the run's logical time is read in: its schedule's, else the project's default. */
    timezone: z.string(),
    params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])) as z.ZodType<Readonly<Record<string, ParamValue>>>,
    maxAttempts: z.number().int(),
  }),
  deploymentId: z.string(),
  bundleHash: z.string(),
  spec: opaque<CompiledJob>('the compiled job (src/model/job.ts CompiledJob)'),
  /** Log lines of this attempt are numbered from here + 1 (numbers continue across attempts). */
  logSeqStart: z.number().int(),
  /** Values of the secrets the job names (env var name → value): for the attempt's environment and log masking only. */
  secrets: z.record(z.string(), z.string()).optional(),
  /** The environment the job names (absent or null: the worker's own tools). */
  environment: opaque<CompiledEnvironment>('the compiled environment (src/model/job.ts CompiledEnvironment)').nullable().optional(),
  /** For a rerun or a retry: the environment recorded with the original, to be used again exactly. */
  pinnedEnvironment: recordedEnvironmentSchema.nullable().optional(),
  /** The team's container registry (`kairos server --registry`), for an environment that is an image; absent: none. */
  registry: text.nullable().optional(),
}).meta({ id: 'Assignment' });
export type Assignment = DeepReadonly<z.infer<typeof assignmentSchema>>;

export const LOG_STREAMS = ['stdout', 'stderr', 'system'] as const;
export type LogStream = (typeof LOG_STREAMS)[number];

export const logLineSchema = z
  .strictObject({
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    ts: epochMs,
    stream: z.enum(LOG_STREAMS),
    line: z.string().max(PROTOCOL_LIMITS.lineChars),
  })
  .meta({ id: 'WorkerLogLine' });
export type LogLine = DeepReadonly<z.infer<typeof logLineSchema>>;

export const metricSchema = z.strictObject({
  name,
  value: z.number(),
  step: z.number().int().nullable(),
  ts: epochMs,
});
export type Metric = DeepReadonly<z.infer<typeof metricSchema>>;

export const artifactSchema = z.strictObject({
  path: text.min(1),
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type Artifact = DeepReadonly<z.infer<typeof artifactSchema>>;

/** The server's answer to an ended attempt's list of artifacts: the blobs to send, and what it will not keep. */
export const artifactsWantedSchema = z.strictObject({
  upload: z.array(z.string().regex(/^[0-9a-f]{64}$/)).max(PROTOCOL_LIMITS.outputs),
  refused: z.array(z.strictObject({ path: text, reason: text })).max(PROTOCOL_LIMITS.outputs),
  /** A line for the run's log when something is not kept (limits), else null. */
  message: text.nullable(),
});
export type ArtifactsWanted = DeepReadonly<z.infer<typeof artifactsWantedSchema>>;

export const WORKER_OUTCOMES = ['succeeded', 'failed', 'timed_out', 'cancelled'] as const;
export type WorkerOutcome = (typeof WORKER_OUTCOMES)[number];

export const startedInfoSchema = z.strictObject({
  pid: z.number().int().min(0).max(2 ** 31).nullable(),
  /** /proc start time of the process, so a later incarnation can tell it from a reused pid. */
  procStart: z.string().max(PROTOCOL_LIMITS.name).nullable(),
  /** When the process started, by the worker's clock (epoch ms). */
  startedAt: epochMs,
});
export type StartedInfo = DeepReadonly<z.infer<typeof startedInfoSchema>>;

export const attemptResultSchema = z.strictObject({
  outcome: z.enum(WORKER_OUTCOMES),
  exitCode: z.number().int().min(-1_000_000).max(1_000_000).nullable(),
  reason: text.nullable(),
  /** Why it ended, as a stable code (null when it succeeded); absent from workers older than the codes. */
  reasonCode: z.enum(REASON_CODE_LIST as [ReasonCode, ...ReasonCode[]]).nullable().optional(),
  metrics: z.array(metricSchema).max(PROTOCOL_LIMITS.outputs),
  artifacts: z.array(artifactSchema).max(PROTOCOL_LIMITS.outputs),
  /** The start report, when the process ended before it was sent on its own. */
  started: startedInfoSchema.optional(),
  /** The environment the attempt ran in (absent: the worker's own tools); packages null if it was not built. */
  environment: z.strictObject({ hash: name, packages: recordedEnvironmentSchema.shape.packages.nullable(), image: recordedImageSchema.optional() }).optional(),
}).meta({ id: 'AttemptResult' });
export type AttemptResult = DeepReadonly<z.infer<typeof attemptResultSchema>>;

/** Why a worker gives an attempt up: it could not renew the lease, it restarted, or it is shutting down. */
export const ABANDON_CODES = ['lost', 'node_failure', 'shutdown'] as const satisfies readonly ReasonCode[];
export type AbandonCode = (typeof ABANDON_CODES)[number];

const pools = z.array(name).min(1).max(PROTOCOL_LIMITS.pools);
const workerId = z.string().regex(/^[A-Za-z0-9@._:-]{1,80}$/, '1-80 characters of letters, digits, @ . _ : -');

export const placeOfferSchema = z.strictObject({
  cpu: z.number().min(0).max(1_000_000),
  memoryBytes: z.number().int().min(0).max(2 ** 62),
  gpu: z.number().int().min(0).max(10_000),
  maxTimeMs: z.number().int().min(0).max(2 ** 52).nullable(),
  slots: z.number().int().min(1).max(PROTOCOL_LIMITS.max),
  nodes: z.number().int().min(1).max(1_000_000).optional(),
});
export type PlaceOfferInfo = z.infer<typeof placeOfferSchema>;

export const workerInfoSchema = z.strictObject({
  id: workerId,
  host: z.string().max(PROTOCOL_LIMITS.name),
  pools,
  capacity: z.number().int().min(1).max(PROTOCOL_LIMITS.max),
  version: z.string().max(PROTOCOL_LIMITS.name),
  /** Where it runs attempts (src/worker/places/place.ts) and what one attempt can get there; absent from older workers. */
  place: z.string().max(PROTOCOL_LIMITS.name).optional(),
  offer: placeOfferSchema.optional(),
});
export type WorkerInfo = DeepReadonly<z.infer<typeof workerInfoSchema>>;

/** One endpoint's check by a worker (src/model/network.ts EndpointCheck). */
export const endpointCheckSchema = z
  .strictObject({
    endpoint: text.min(1),
    result: z.enum(ENDPOINT_RESULTS),
    latencyMs: z.number().min(0).max(3_600_000),
    detail: text.nullable(),
    checkedAt: epochMs,
  })
  .meta({ id: 'EndpointCheck' });
export type EndpointCheckBody = DeepReadonly<z.infer<typeof endpointCheckSchema>>;

/** One part of a place's own health (the launcher, podman, the Slurm controller, the Kubernetes API…). */
export const placeHealthSchema = z.strictObject({ name, ok: z.boolean(), detail: text.nullable() }).meta({ id: 'PlaceHealth' });
export type PlaceHealth = DeepReadonly<z.infer<typeof placeHealthSchema>>;

/** `kairos doctor` asks a worker (in a heartbeat's answer) to check these endpoints now and report with `probe: id`. */
export const probeSchema = z.strictObject({ id: name, endpoints: z.array(text.min(1)).max(1000), timeoutMs: z.number().int().min(1).max(600_000) });
export type Probe = DeepReadonly<z.infer<typeof probeSchema>>;

/** What a worker reports of the network: its latest checks, an attempt's preflight, a doctor probe's answer. */
export const networkReportSchema = z.strictObject({
  checks: z.array(endpointCheckSchema).max(10_000),
  /** The attempt whose preflight these checks are. */
  lease: leaseRefSchema.optional(),
  /** With `lease`: what the attempt waits for (`on_failure: wait`), null once it no longer waits. */
  waiting: text.nullable().optional(),
  /** The probe these checks answer. */
  probe: name.optional(),
  /** With `probe`: the place's own health, the worker's clock (epoch ms) and what it offers. */
  placeHealth: z.array(placeHealthSchema).max(100).optional(),
  now: epochMs.optional(),
  place: name.optional(),
});
export type NetworkReport = DeepReadonly<z.infer<typeof networkReportSchema>>;

export const heartbeatReplySchema = z.strictObject({
  /** Leases the control plane no longer honours: the worker must kill those attempts at once. */
  refused: z.array(leaseRefSchema),
  /** Runs whose cancel was requested. */
  cancel: z.array(z.string()),
  /** Endpoints `kairos doctor` wants checked now (absent from older servers). */
  probes: z.array(probeSchema).optional(),
});
export type HeartbeatReply = DeepReadonly<z.infer<typeof heartbeatReplySchema>>;

/** What a worker asks for next when it reports an attempt's end (claim in the same exchange). */
export const nextClaimSchema = z.strictObject({ workerId, pools, max: z.number().int().min(1).max(PROTOCOL_LIMITS.max) });
export type NextClaim = DeepReadonly<z.infer<typeof nextClaimSchema>>;

/** `assignment`: present while the lease is still live, so a place whose attempts outlive the worker (Slurm) can adopt it. */
export const recoveredAttemptSchema = z.strictObject({ lease: leaseRefSchema, pid: z.number().int().nullable(), procStart: z.string().nullable(), assignment: assignmentSchema.optional() });
export type RecoveredAttempt = DeepReadonly<z.infer<typeof recoveredAttemptSchema>>;

/** The bodies of the worker protocol over HTTP, request and answer, one pair per endpoint. */
export const workerBodies = {
  register: { request: workerInfoSchema, response: z.strictObject({ ok: z.literal(true), lease_ms: z.number().int() }) },
  recover: { request: z.strictObject({}), response: z.strictObject({ attempts: z.array(recoveredAttemptSchema) }) },
  claim: {
    request: z.strictObject({ pools, max: z.number().int().min(1).max(PROTOCOL_LIMITS.max), wait_ms: z.number().int().min(0).max(60_000).optional() }),
    response: z.strictObject({ assignments: z.array(assignmentSchema) }),
  },
  heartbeat: { request: z.strictObject({ leases: z.array(leaseRefSchema).max(PROTOCOL_LIMITS.leases) }), response: heartbeatReplySchema },
  stop: { request: z.strictObject({}), response: z.strictObject({ ok: z.literal(true) }) },
  started: { request: z.strictObject({ lease: leaseRefSchema, info: startedInfoSchema }), response: z.strictObject({ ok: z.literal(true) }) },
  logs: { request: z.strictObject({ lease: leaseRefSchema, lines: z.array(logLineSchema).max(PROTOCOL_LIMITS.lines) }), response: z.strictObject({ ok: z.literal(true) }) },
  logsMany: {
    request: z.strictObject({ items: z.array(z.strictObject({ lease: leaseRefSchema, lines: z.array(logLineSchema).max(PROTOCOL_LIMITS.lines) })).max(PROTOCOL_LIMITS.items) }),
    response: z.strictObject({ stale: z.array(leaseRefSchema) }),
  },
  finish: {
    request: z.strictObject({ lease: leaseRefSchema, result: attemptResultSchema, next: nextClaimSchema.optional() }),
    response: z.strictObject({ assignments: z.array(assignmentSchema) }),
  },
  network: { request: networkReportSchema, response: z.strictObject({ ok: z.literal(true) }) },
  abandon: { request: z.strictObject({ lease: leaseRefSchema, reason: text.optional(), reason_code: z.enum(ABANDON_CODES).optional() }), response: z.strictObject({ ok: z.literal(true) }) },
} as const;

/** The control plane as a worker sees it. */
export interface ControlLink {
  registerWorker(info: WorkerInfo): Promise<void>;
  /** Attempts of live runs this worker held before it restarted (to kill and give up). */
  recoverWorker(workerId: string): Promise<readonly RecoveredAttempt[]>;
  /** Claims up to `max` runs; a remote link may wait up to `waitMs` for one to arrive (long polling). */
  claim(workerId: string, pools: readonly string[], max: number, opts?: { waitMs?: number; signal?: AbortSignal }): Promise<Assignment[]>;
  /** Makes a deployment's bundle available under `<dataDir>/bundles/<hash>` (a no-op where it already is). */
  ensureBundle(dataDir: string, hash: string): Promise<void>;
  started(lease: LeaseRef, info: StartedInfo): Promise<void>;
  heartbeat(workerId: string, leases: readonly LeaseRef[]): Promise<HeartbeatReply>;
  appendLogs(lease: LeaseRef, lines: readonly LogLine[]): Promise<void>;
  /** Log lines of several attempts in one exchange (one transaction); says which leases were stale. */
  appendLogsMany(items: readonly { lease: LeaseRef; lines: readonly LogLine[] }[]): Promise<{ stale: readonly LeaseRef[] }>;
  /** Ends an attempt; with `next`, claims the worker's next runs in the same exchange. */
  finish(lease: LeaseRef, result: AttemptResult, next?: { workerId: string; pools: readonly string[]; max: number }): Promise<Assignment[]>;
  /** Which of an ended attempt's artifacts the server keeps, and which blobs it still needs. */
  artifactsWanted(lease: LeaseRef, artifacts: readonly Artifact[]): Promise<ArtifactsWanted>;
  /** Sends one artifact's bytes (a file on this machine) to the artifact store. */
  uploadArtifact(lease: LeaseRef, artifact: Artifact, file: string): Promise<void>;
  /** Gives an attempt up as lost (its process is gone); the run is retried or failed by policy. */
  abandon(lease: LeaseRef, reason: string, reasonCode?: AbandonCode): Promise<void>;
  /**
   * Resolves with the current work version when claimable work may exist (the version moved past `since`),
   * or after `timeoutMs`. Claiming with the version seen before the claim means no wake-up is ever missed.
   */
  waitForWork(pools: readonly string[], since: number, timeoutMs: number, signal: AbortSignal): Promise<number>;
  /** In-process links push cancels at once; remote ones deliver them with heartbeats. */
  onCancel(listener: (runId: string) => void): () => void;
  unregisterWorker(workerId: string): Promise<void>;
  /** The worker's network checks (preflight of an attempt, recent results, a doctor probe's answer). */
  reportNetwork(workerId: string, report: NetworkReport): Promise<void>;
  /** In-process links tell at once that `kairos doctor` has a probe for a worker (remote ones get it with a heartbeat). */
  onProbe?(listener: (workerId: string) => void): () => void;
  /** The exact files of the attempt's `inputs` (resolved and pinned by the control plane, recorded with the attempt). */
  resolveInputs(lease: LeaseRef): Promise<readonly ResolvedInput[]>;
  /** The bytes of one blob of the artifact store (an input's file); the caller checks them against the hash. */
  fetchBlob(sha256: string): Promise<Readable>;
}
