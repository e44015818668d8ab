/**
 * The compiled manifest: what the engine uses. Only `compileManifest` (src/manifest/compile.ts) makes one,
 * from the document a user wrote, with every default applied and every duration in milliseconds.
 * The user-facing document type lives beside the schema (src/manifest/schema.ts).
 */

import type { CompiledNetwork } from './network.js';
import type { InputSpec, RetentionSpec } from './inputs.js';
import type { CompiledPipeline } from './pipeline.js';

export const PARAM_TYPES = ['string', 'integer', 'number', 'boolean', 'date'] as const;
export type ParamType = (typeof PARAM_TYPES)[number];
/** A parameter value after parsing: dates are kept as 'YYYY-MM-DD' strings. */
export type ParamValue = string | number | boolean;

export const CATCHUP_POLICIES = ['none', 'latest', 'all'] as const;
export type CatchupPolicy = (typeof CATCHUP_POLICIES)[number];

export const CONCURRENCY_POLICIES = ['allow', 'forbid', 'queue', 'replace'] as const;
export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];

export const RETRY_ON = ['failed', 'timed_out', 'lost'] as const;
export type RetryOn = (typeof RETRY_ON)[number];

export const NOTIFY_ON = ['failure', 'recovery', 'late', 'metric'] as const;
export type NotifyOn = (typeof NOTIFY_ON)[number];
export const NOTIFY_FORMATS = ['json', 'slack'] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];

/** One alert rule: when to notify, and which webhook gets the notice, in which body format. */
export type NotifyRule = {
  /** Where the rule was written, e.g. `jobs.train.notify[0]` or `defaults.notify[1]`: the alert's `rule`. */
  readonly id: string;
  readonly webhook: string;
  readonly format: NotifyFormat;
} & (
  | { readonly on: 'failure' }
  | { readonly on: 'recovery' }
  /** Late: not started `startMs` after its tick, or not finished `finishMs` after it (null: not checked). */
  | { readonly on: 'late'; readonly startMs: number | null; readonly finishMs: number | null }
  /** A metric the run reported crossing a threshold: a value > above, or < below. */
  | { readonly on: 'metric'; readonly metric: string; readonly above: number | null; readonly below: number | null }
);

export interface ParamSpec {
  readonly type: ParamType;
  readonly default?: ParamValue;
  readonly required: boolean;
  readonly enum?: readonly ParamValue[];
  readonly description?: string;
}

export interface RetryPolicy {
  /** Retries after the first attempt: 0 means one attempt in all. */
  readonly max: number;
  readonly delayMs: number;
  /** Multiplier applied to the delay after each retry (1 = constant delay). */
  readonly backoff: number;
  readonly maxDelayMs: number;
  /** Fraction (0..1) of the delay that is randomised, to spread retries of many runs. */
  readonly jitter: number;
  readonly on: readonly RetryOn[];
}

export interface CompiledSchedule {
  readonly cron: string;
  readonly timezone: string;
  readonly catchup: CatchupPolicy;
  /** Upper bound on runs created by `catchup: all` after one downtime; the rest are recorded as skipped. */
  readonly maxCatchup: number;
  readonly concurrency: ConcurrencyPolicy;
}

/** A command a place starts: a shell script (`/bin/sh -c`) or a program and its arguments. */
export type RunCommand =
  | { readonly kind: 'shell'; readonly script: string }
  | { readonly kind: 'argv'; readonly argv: readonly string[] };

/**
 * `run: {notebook, kernel}`: a Jupyter notebook, executed by Kairos' notebook driver in the job's environment
 * (src/worker/notebook/): the worker turns it into an argv `RunCommand` before a place sees it.
 */
export interface NotebookRun {
  readonly kind: 'notebook';
  /** Relative to the project root, normalised, never escaping it. */
  readonly notebook: string;
  /** The Jupyter kernel; null = the job environment's own Python for a Python notebook (docs/notebooks.md). */
  readonly kernel: string | null;
}

/** What a job runs. */
export type JobRun = RunCommand | NotebookRun;

export interface Resources {
  readonly cpu: number | null;
  readonly memoryBytes: number | null;
  readonly gpu: number | null;
}

export interface CompiledJob {
  readonly name: string;
  readonly description: string | null;
  readonly run: JobRun;
  readonly schedule: CompiledSchedule | null;
  readonly params: Readonly<Record<string, ParamSpec>>;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number | null;
  /** A notebook job's limit on each cell (`cell_timeout`); absent or null = none. */
  readonly cellTimeoutMs?: number | null;
  /** Time between TERM and KILL when a run is timed out or cancelled. */
  readonly graceMs: number;
  /** A run not started this long after it was created ends failed (`start_timeout`); null = waits as long as it takes. */
  readonly startTimeoutMs?: number | null;
  readonly retries: RetryPolicy;
  readonly pool: string;
  readonly resources: Resources;
  readonly secrets: readonly string[];
  /** Relative to the project root, normalised, never escaping it; null = the root. */
  readonly workdir: string | null;
  readonly environment: string | null;
  /** The job's own `notify` rules, or else the defaults'. */
  readonly notify: readonly NotifyRule[];
  /** `kairos check` smoke run: null = none; [] = the command as is; otherwise arguments appended to it. */
  readonly check: readonly string[] | null;
  /** Endpoints checked before each attempt (`network`, added to `defaults.network`). */
  readonly network: CompiledNetwork;
  /** `inputs`: fetched into KAIROS_INPUTS/<name> before the command starts (src/model/inputs.ts). */
  readonly inputs: readonly InputSpec[];
  /** `retention` of its artifacts; null fields: the server's defaults. */
  readonly retention: RetentionSpec;
  /** `service`: the job serves HTTP on a port until stopped (docs/services.md); absent or null: an ordinary job. */
  readonly service?: CompiledService | null;
  /** A job Kairos adds to every project (src/model/builtin-jobs.ts), not written in kairos.yaml. */
  readonly builtin?: boolean;
}

/** A service job's port on 127.0.0.1, its health path, and how long unused before it is stopped (null: never). */
export interface CompiledService {
  readonly port: number;
  readonly health: string;
  readonly idleStopMs: number | null;
  /** Prefixes of cookies the service sets that never reach the browser (the built-in Jupyter's login cookie). */
  readonly dropCookies?: readonly string[];
}

/** The network of a container environment: the machine's own (`host`) or none at all (loopback only). */
export type ContainerNetwork = 'host' | 'none';

/**
 * Where a job runs: the worker's own tools, a Python virtual environment, node_modules from `npm ci`, or a
 * container image (an existing one, or one Kairos builds from a Containerfile). Paths (requirements,
 * package.json, containerfile, context) are relative to the project directory.
 */
export type CompiledEnvironment =
  | { readonly kind: 'system'; readonly name: string }
  | {
      readonly kind: 'python';
      readonly name: string;
      /** A version ("3.11" → python3.11 on PATH), "python3", or an absolute path. */
      readonly interpreter: string;
      readonly requirements: string | null;
      /** The first is the primary index; the others are extra indexes. Empty: pip's default. */
      readonly indexUrls: readonly string[];
      readonly systemSitePackages: boolean;
    }
  | { readonly kind: 'node'; readonly name: string; readonly packageJson: string }
  | { readonly kind: 'image'; readonly name: string; readonly image: string; readonly network: ContainerNetwork }
  | { readonly kind: 'containerfile'; readonly name: string; readonly containerfile: string; readonly context: string; readonly network: ContainerNetwork };

/** Environments that are container images (run with podman, or as a Kubernetes pod). */
export type ContainerEnvironment = Extract<CompiledEnvironment, { kind: 'image' | 'containerfile' }>;

export function isContainerEnvironment(env: CompiledEnvironment | null | undefined): env is ContainerEnvironment {
  return env?.kind === 'image' || env?.kind === 'containerfile';
}

export interface CompiledTest {
  readonly run: RunCommand;
  readonly environment: string | null;
  readonly timeoutMs: number;
}

export interface CompiledPool {
  readonly name: string;
  /** Most runs of this pool running at once across all workers; null = no limit but the workers'. */
  readonly concurrency: number | null;
}

/**
 * The shape of the compiled manifest. Deployments keep theirs in the database as JSON: one compiled by an
 * earlier shape is brought to this one by `upgradeCompiledManifest` (./upgrade.ts) when it is read back.
 * Raise it (and teach the upgrade) whenever the shape changes.
 */
export const COMPILED_MANIFEST_VERSION = 2;

export interface CompiledManifest {
  readonly version: typeof COMPILED_MANIFEST_VERSION;
  readonly project: string;
  readonly defaults: {
    readonly timezone: string;
    readonly timeoutMs: number | null;
    readonly graceMs: number;
    readonly retries: RetryPolicy;
    readonly pool: string;
    readonly notify: readonly NotifyRule[];
    readonly network: CompiledNetwork;
  };
  /** Always holds the pool `default`. */
  readonly pools: Readonly<Record<string, CompiledPool>>;
  readonly environments: Readonly<Record<string, CompiledEnvironment>>;
  /** The project's test command (`kairos check`), or null. */
  readonly test: CompiledTest | null;
  readonly jobs: Readonly<Record<string, CompiledJob>>;
  /** `pipelines` (src/model/pipeline.ts); absent from manifests compiled before pipelines existed. */
  readonly pipelines?: Readonly<Record<string, CompiledPipeline>>;
}

/** One problem in a manifest, reported as `FILE:LINE:COL: PATH: message`. Lines and columns count from 1. */
export interface ManifestProblem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** Dotted path in the document, e.g. `jobs.train.retries.max`; empty for the document itself. */
  readonly path: string;
  /** Stable code, e.g. `unknown_key`, `invalid_type`, `invalid_cron`, `yaml_syntax`. */
  readonly code: string;
  readonly message: string;
}

export type ManifestResult =
  | { readonly ok: true; readonly manifest: CompiledManifest }
  | { readonly ok: false; readonly problems: readonly ManifestProblem[] };
