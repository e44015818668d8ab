/**
 * What passes between the control plane and a worker. The same shapes travel in-process (kairos up) and,
 * later, over HTTP for remote workers: plain JSON data only.
 */
import type { CompiledEnvironment, CompiledJob, ParamValue } from '../manifest/types.js';
import type { ReasonCode } from '../model/reasons.js';

/** Proof that a worker holds an attempt. Every report carries it; a stale one is refused. */
export interface LeaseRef {
  readonly runId: string;
  readonly attempt: number;
  readonly token: string;
}

export interface Assignment {
  readonly lease: LeaseRef;
  readonly leaseMs: number;
  readonly run: {
    readonly id: string;
    readonly project: string;
    readonly job: string;
    readonly trigger: string;
    readonly scheduledFor: number | null;
    /** The zone the run's logical time is read in: its schedule's, else the project's default. */
    readonly timezone: string;
    readonly params: Readonly<Record<string, ParamValue>>;
    readonly maxAttempts: number;
  };
  readonly deploymentId: string;
  readonly bundleHash: string;
  readonly spec: CompiledJob;
  /** Log lines of this attempt are numbered from here + 1 (numbers continue across attempts). */
  readonly logSeqStart: number;
  /** Values of the secrets the job names (env var name → value): for the attempt's environment and log masking only. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** The environment the job names (absent or null: the worker's own tools). */
  readonly environment?: CompiledEnvironment | null;
  /** For a rerun or a retry: the environment recorded with the original, to be used again exactly. */
  readonly pinnedEnvironment?: RecordedEnvironment | null;
}

/** The environment an attempt ran in: its content hash and every package it held. */
export interface RecordedEnvironment {
  readonly hash: string;
  readonly packages: readonly { readonly name: string; readonly version: string }[];
}

export const LOG_STREAMS = ['stdout', 'stderr', 'system'] as const;
export type LogStream = (typeof LOG_STREAMS)[number];

export interface LogLine {
  readonly seq: number;
  readonly ts: number;
  readonly stream: LogStream;
  readonly line: string;
}

export interface Metric {
  readonly name: string;
  readonly value: number;
  readonly step: number | null;
  readonly ts: number;
}

export interface Artifact {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export type WorkerOutcome = 'succeeded' | 'failed' | 'timed_out' | 'cancelled';

export interface AttemptResult {
  readonly outcome: WorkerOutcome;
  readonly exitCode: number | null;
  readonly reason: string | null;
  /** Why it ended, as a stable code (null when it succeeded); absent from workers older than the codes. */
  readonly reasonCode?: ReasonCode | null;
  readonly metrics: readonly Metric[];
  readonly artifacts: readonly Artifact[];
  /** The start report, when the process ended before it was sent on its own. */
  readonly started?: StartedInfo;
  /** The environment the attempt ran in (absent: the worker's own tools); packages null if it was not built. */
  readonly environment?: { readonly hash: string; readonly packages: RecordedEnvironment['packages'] | null };
}

/** Why a worker gives an attempt up: it could not renew the lease, it restarted, or it is shutting down. */
export type AbandonCode = Extract<ReasonCode, 'lost' | 'node_failure' | 'shutdown'>;

export interface StartedInfo {
  readonly pid: number;
  /** /proc start time of the process, so a later incarnation can tell it from a reused pid. */
  readonly procStart: string | null;
  /** When the process started, by the worker's clock (epoch ms). */
  readonly startedAt: number;
}

export interface WorkerInfo {
  readonly id: string;
  readonly host: string;
  readonly pools: readonly string[];
  readonly capacity: number;
  readonly version: string;
}

export interface HeartbeatReply {
  /** Leases the control plane no longer honours: the worker must kill those attempts at once. */
  readonly refused: readonly LeaseRef[];
  /** Runs whose cancel was requested. */
  readonly cancel: readonly string[];
}

/** The control plane as a worker sees it. */
export interface ControlLink {
  registerWorker(info: WorkerInfo): Promise<void>;
  /** Attempts of live runs this worker held before it restarted (to kill and give up). */
  recoverWorker(workerId: string): Promise<readonly { lease: LeaseRef; pid: number | null; procStart: string | null }[]>;
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
}
