/**
 * `kairos check`: what a project needs before it runs, as a list of checks in three groups. `configuration`
 * (the manifest, and the secrets, pools and environments its jobs name), `dependencies` (requirements resolve
 * against the configured indexes, installing nothing), `code` (the project's tests and the jobs' smoke runs,
 * inside their environments).
 */
export const CHECK_STATUSES = ['pass', 'fail', 'warn', 'skip'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

export const CHECK_GROUPS = ['configuration', 'dependencies', 'code'] as const;
export type CheckGroup = (typeof CHECK_GROUPS)[number];

export interface Check {
  readonly group: CheckGroup;
  /** What was checked, e.g. `manifest`, `secret API_KEY`, `requirements py`. */
  readonly name: string;
  readonly status: CheckStatus;
  /** One line. */
  readonly message: string;
  /** Further lines (an installer's or a test's output, the manifest's problems). */
  readonly details?: readonly string[];
}

export interface CheckReport {
  /** False when any check failed (warnings and skips do not fail a report). */
  readonly ok: boolean;
  readonly project: string | null;
  readonly dir: string;
  readonly checks: readonly Check[];
  readonly counts: Readonly<Record<CheckStatus, number>>;
  /** True when the manifest itself is invalid (the CLI exits 2: invalid input). */
  readonly invalidManifest: boolean;
}

export function makeReport(dir: string, project: string | null, checks: readonly Check[], invalidManifest = false): CheckReport {
  const counts = { pass: 0, fail: 0, warn: 0, skip: 0 };
  for (const c of checks) counts[c.status]++;
  return { ok: counts.fail === 0, project, dir, checks, counts, invalidManifest };
}

/**
 * What `runChecks` reports while it runs, for a progress display: a step starts (a check or a group of
 * checks that is about to take time), and each check as it ends.
 */
export type CheckProgress =
  | { readonly kind: 'start'; readonly group: CheckGroup; readonly name: string }
  | { readonly kind: 'end'; readonly check: Check; readonly ms: number };

export type OnCheckProgress = (e: CheckProgress) => void;

/** Runs one step: says it starts, runs it, says how each of its checks ended. */
export async function step(on: OnCheckProgress | undefined, group: CheckGroup, name: string, fn: () => Promise<Check[]> | Check[]): Promise<Check[]> {
  const t0 = Date.now();
  on?.({ kind: 'start', group, name });
  const checks = await fn();
  const ms = Date.now() - t0;
  for (const check of checks) on?.({ kind: 'end', check, ms });
  return checks;
}
