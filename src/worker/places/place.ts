/**
 * A place is where a worker runs an attempt: `local` (a process on the worker's machine, ./local-place.ts) or
 * `slurm` (a batch job on a cluster). Every place answers the same small interface, and one conformance suite
 * (test/places/conformance.ts) runs against each of them.
 *
 * A place knows nothing of runs, leases or the control plane: the worker's AttemptRunner (../attempt.ts) turns
 * an assignment into a PlaceAttemptSpec, ships the lines the place streams, and reports how the attempt ended.
 */
import type { RunCommand } from '../../model/job.js';

/** How an attempt ended, from a fixed vocabulary every place maps its own states onto. */
export type PlaceEndReason = 'exit_code' | 'signal' | 'oom' | 'time_limit' | 'node_failure' | 'preempted' | 'cancelled' | 'lost';

export const PLACE_END_REASONS: readonly PlaceEndReason[] = ['exit_code', 'signal', 'oom', 'time_limit', 'node_failure', 'preempted', 'cancelled', 'lost'];

/** What a place can give: `cpu`, `memoryBytes`, `gpu` and `maxTimeMs` are for ONE attempt (per node). */
export interface PlaceOffer {
  readonly cpu: number;
  readonly memoryBytes: number;
  readonly gpu: number;
  /** The longest an attempt may run here; null = no limit. */
  readonly maxTimeMs: number | null;
  /** How many attempts this place runs at once. */
  readonly slots: number;
  /** Nodes with that offer each (a cluster partition); absent = 1. The place's total is offer × nodes. */
  readonly nodes?: number;
}

/** Receives what an attempt writes, in order. */
export interface PlaceOutput {
  /** `more`: the last of `lines` is a piece of a longer line that goes on. */
  onLines(stream: 'stdout' | 'stderr', lines: readonly string[], more?: boolean): void;
  /** A line from the place itself about the attempt (limits applied, out of memory, node lost); logged as system. */
  note?(line: string): void;
  /** Awaited between chunks of output: lets the consumer hold the reader back. Optional. */
  pace?(): Promise<void>;
}

export interface PlaceAttemptSpec extends PlaceOutput {
  /** Deterministic, from run id and attempt: placeAttemptName(runId, attempt). */
  readonly name: string;
  readonly command: RunCommand;
  readonly cwd: string;
  /**
   * The job's variables, over the place's base environment. Includes secrets: a place never puts them on a
   * command line or in a file others can read.
   */
  readonly env: Readonly<Record<string, string>>;
  /** What the attempt may get; absent = not limited. `gpuDevices`: the device indices it sees (CUDA_VISIBLE_DEVICES). */
  readonly resources: { readonly cpu?: number; readonly memoryBytes?: number; readonly gpu?: number; readonly gpuDevices?: readonly string[] };
  /** The place ends the attempt with 'time_limit' after this long; null = none. */
  readonly timeLimitMs: number | null;
  /** Time between TERM and KILL on a cancel or time limit. */
  readonly graceMs: number;
  /**
   * Paths the attempt reads and writes (a place with a sandbox enforces them; `writable` directories are
   * created before it starts). Places with a shared filesystem keep them there.
   */
  readonly paths: { readonly readOnly: readonly string[]; readonly writable: readonly string[]; readonly writableFiles: readonly string[] };
  /**
   * The container image the attempt runs in, when the job's environment is an image (`image:` or
   * `containerfile:`): `ref` as the place pulls it (pinned `name@sha256:…` when the digest is known). Absent = the
   * place's own system. A place that cannot run images refuses such a spec when it starts. `network`: the
   * environment's `network` (`host`, the default, or `none`).
   */
  readonly image?: { readonly ref: string; readonly digest?: string | null; readonly network?: 'host' | 'none' };
}

export interface PlaceStarted {
  /** Epoch ms. */
  readonly startedAt: number;
  /** Where it runs, for people: a host, a Slurm job id and node. */
  readonly where?: string;
  /** The local process, when there is one (a second line of defence after a worker restart). */
  readonly pid?: number;
  readonly procStart?: string | null;
}

export interface PlaceEnd {
  readonly reason: PlaceEndReason;
  /** The exit status (128 + signal number when a signal ended it), or null when unknown. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** For people: "out of memory (limit 64Mi)", "slurm job 12 NODE_FAIL on node2". */
  readonly detail?: string;
  /** Some of the job's output was lost because the disk under the worker's output spool filled. */
  readonly outputLost?: boolean;
}

export interface PlaceAttempt {
  readonly name: string;
  /** Rejects when the attempt ended without ever starting (the message says why); settles no later than `ended`. */
  readonly started: Promise<PlaceStarted>;
  /** Never rejects. */
  readonly ended: Promise<PlaceEnd>;
  /**
   * Stops it: TERM, then KILL after `graceMs` (default: the spec's). `ended` then says `why` (unless it had
   * already ended). Safe to call more than once and after the end.
   */
  cancel(why: 'cancelled' | 'time_limit' | 'lost', graceMs?: number): Promise<void>;
}

export interface Place {
  readonly kind: 'local' | 'slurm' | (string & {});
  /**
   * live() lists only attempts this worker (by its id) started, so after a restart those it does not adopt
   * are orphans the worker ends (kubernetes, by label). Absent: live() may list other workers' attempts.
   */
  readonly livePerWorker?: boolean;
  /** What one attempt can get here, and how many at once. */
  offer(): Promise<PlaceOffer>;
  /** Starts an attempt; resolves once the place has accepted it (see `started` for when it runs). */
  start(spec: PlaceAttemptSpec): Promise<PlaceAttempt>;
  /** Names of attempts this place (or an earlier incarnation of it, where they survive one) started that still live. */
  live(): Promise<string[]>;
  /** Follows a live attempt by name again (after a worker restart); null when there is none. */
  adopt(name: string, output: PlaceOutput): Promise<PlaceAttempt | null>;
  /** Ends a live attempt by name at once (it is not to be followed); no-op when there is none. */
  end(name: string): Promise<void>;
  health(): Promise<{ ok: boolean; detail: string }>;
  /** Places whose attempts die with the worker: kill them all unless called again within `ms` (0: off). */
  watchdog?(ms: number): void;
  /** Stops following; attempts of a local place die with it, those of a cluster place live on. */
  close(): Promise<void>;
}

const NAME = /^kairos-([0-9A-Za-z_-]{1,64})-([1-9][0-9]{0,5})$/;

/** The deterministic name of an attempt at any place: `kairos-<runId>-<attempt>`. */
export function placeAttemptName(runId: string, attempt: number): string {
  const name = `kairos-${runId}-${attempt}`;
  if (!NAME.test(name)) throw new Error(`not a run id and attempt: ${runId} ${attempt}`);
  return name;
}

/** The run id and attempt of a name from placeAttemptName, or null for any other name. */
export function parsePlaceAttemptName(name: string): { runId: string; attempt: number } | null {
  const m = NAME.exec(name);
  return m ? { runId: m[1] as string, attempt: Number(m[2]) } : null;
}
