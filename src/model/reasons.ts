/**
 * Why an attempt or a run ended as it did, as a stable code beside the human `reason` text. Scripts, alerts and
 * the dashboard branch on the code; the text is for people and may change. docs/runs.md lists them.
 */

export const REASON_CODES = {
  /** The process exited with a non-zero code. */
  exit_code: 'exit_code',
  /** The process was killed by a signal it did not get from Kairos. */
  signal: 'signal',
  /** The kernel killed the job for going over its memory limit. */
  out_of_memory: 'out_of_memory',
  /** The job ran past its `timeout`. */
  time_limit: 'time_limit',
  /** A user, the API or a concurrency policy (`replace`) cancelled the run. */
  cancelled: 'cancelled',
  /** The attempt's lease expired, or its worker could no longer renew it: nobody knows how it ended. */
  lost: 'lost',
  /** The worker restarted while the attempt was running (the machine or the worker process failed). */
  node_failure: 'node_failure',
  /** The worker was shut down before the attempt finished. */
  shutdown: 'shutdown',
  /** The job's environment (Python or Node packages) could not be built. */
  env_build_failed: 'env_build_failed',
  /** The process could not be started (command not found, bad working directory, …). */
  could_not_start: 'could_not_start',
  /** A secret the job names is not set, or cannot be opened with the server's key. */
  missing_secret: 'missing_secret',
  /** The run did not start within its job's `start_timeout` (no worker of its pool could take it in time). */
  start_timeout: 'start_timeout',
  /** Reserved for pipelines: a step this run depends on failed. */
  upstream_failed: 'upstream_failed',
} as const;
export type ReasonCode = (typeof REASON_CODES)[keyof typeof REASON_CODES];
export const REASON_CODE_LIST: readonly ReasonCode[] = Object.values(REASON_CODES);

export function isReasonCode(s: unknown): s is ReasonCode {
  return typeof s === 'string' && (REASON_CODE_LIST as readonly string[]).includes(s);
}

/**
 * The code of a worker's result that carried none (a worker of an older version), from what it did carry:
 * how the attempt ended and its exit code.
 */
export function inferReasonCode(outcome: string, exitCode: number | null): ReasonCode | null {
  switch (outcome) {
    case 'timed_out':
      return 'time_limit';
    case 'cancelled':
      return 'cancelled';
    case 'lost':
      return 'lost';
    case 'failed':
      return exitCode === null ? null : 'exit_code';
    default:
      return null;
  }
}
