/**
 * The environment a job's process gets, built in one place for real runs (src/worker/) and for `kairos check`
 * smoke runs (src/check/): the worker's own environment minus Kairos' credentials (`workerBaseEnv`), then the
 * job's `env`, its secrets, its parameters and the KAIROS_* variables (`runEnv`). Pure: no I/O, no clock.
 */
import type { ParamValue } from './job.js';
import { localDate } from './cron/index.js';

/** Never passed on to a job, whatever the worker's own environment holds. */
const RESERVED_ENV = ['KAIROS_TOKEN', 'KAIROS_SECRET_KEY'];

/**
 * The environment every job starts from: the worker's own, minus Kairos' credentials and variables, plus
 * defaults that suit shared, immutable bundles (no __pycache__ written into them; unbuffered Python output,
 * so lines reach the log as they are printed). A job's `env` and the KAIROS_* variables go on top.
 */
export function workerBaseEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || RESERVED_ENV.includes(k) || k.startsWith('KAIROS_')) continue;
    out[k] = v;
  }
  return out;
}

/** A parameter's value as an environment variable: strings as they are, numbers and booleans as text. */
export function paramEnvValue(v: ParamValue): string {
  return typeof v === 'string' ? v : String(v);
}

/** `KAIROS_PARAM_<NAME>`, the name upper-cased. */
export function paramEnvName(name: string): string {
  return `KAIROS_PARAM_${name.toUpperCase()}`;
}

/** What a run's environment is made of. */
export interface RunEnvInput {
  readonly runId: string;
  readonly project: string;
  readonly job: string;
  readonly attempt: number;
  /** The run's logical time (epoch ms). */
  readonly scheduledFor: number;
  /** The zone its logical time is read in: its schedule's, else the project's default. */
  readonly timezone: string;
  readonly deploymentId: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  /** The job's `env`. */
  readonly env: Readonly<Record<string, string>>;
  readonly secrets?: Readonly<Record<string, string>>;
  /** Where the job writes metrics (KAIROS_OUTPUT) and artifacts (KAIROS_ARTIFACTS). */
  readonly outputFile: string;
  readonly artifactsDir: string;
}

/** The job's own variables; they go over `workerBaseEnv`. The KAIROS_* ones win over anything the job set. */
export function runEnv(i: RunEnvInput): Record<string, string> {
  const env: Record<string, string> = { ...i.env, ...i.secrets };
  for (const [name, value] of Object.entries(i.params)) env[paramEnvName(name)] = paramEnvValue(value);
  return Object.assign(env, {
    KAIROS_RUN_ID: i.runId,
    KAIROS_PROJECT: i.project,
    KAIROS_JOB: i.job,
    KAIROS_ATTEMPT: String(i.attempt),
    KAIROS_SCHEDULED_FOR: new Date(i.scheduledFor).toISOString(),
    // The logical time's calendar date where the schedule lives: "the day this run is for".
    KAIROS_SCHEDULED_DATE: localDate(i.timezone, i.scheduledFor),
    KAIROS_TIMEZONE: i.timezone,
    KAIROS_OUTPUT: i.outputFile,
    KAIROS_ARTIFACTS: i.artifactsDir,
    KAIROS_DEPLOYMENT: i.deploymentId,
  });
}
