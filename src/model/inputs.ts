/**
 * Inputs and data snapshots, the pure part: how an `inputs` reference is written and read, and how a file
 * list gets its content address (a snapshot's version id). No I/O.
 */
import { createHash } from 'node:crypto';

/** A job's input as compiled from `inputs: {NAME: REF}`. */
export type InputSpec =
  | { readonly name: string; readonly ref: string; readonly source: 'snapshot'; readonly snapshot: string; readonly version: string | 'latest' }
  | { readonly name: string; readonly ref: string; readonly source: 'run'; readonly job: string; readonly path: string };

/** Per job `retention`: null fields are the server's defaults. */
export interface RetentionSpec {
  readonly runs: number | null;
  readonly days: number | null;
}

/** A snapshot's name, and an input's name (it becomes one path segment under KAIROS_INPUTS). */
export const SNAPSHOT_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
export const SNAPSHOT_NAME_RULE = 'a letter, then up to 62 letters, digits, "_" or "-"';
/** A version as written: `latest`, or 8 to 64 hex digits of the version id (a unique prefix). */
const VERSION = /^(latest|[0-9a-f]{8,64})$/;
const JOB = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

/** A relative path inside an artifact folder or a snapshot: no `..`, no empty or `.` segments, no NUL. */
export function safeRelativePath(p: string): string | null {
  if (p === '' || p.length > 4096 || p.startsWith('/') || p.includes('\0') || p.includes('\\')) return null;
  const parts = p.split('/');
  if (parts.some((s) => s === '' || s === '.' || s === '..')) return null;
  return parts.join('/');
}

export type ParsedRef = { ok: true; spec: InputSpec } | { ok: false; message: string };

/** `NAME@VERSION`, `NAME@latest` or `run:JOB@latest/PATH`. */
export function parseInputRef(name: string, ref: string): ParsedRef {
  const expected = 'expected SNAPSHOT@VERSION, SNAPSHOT@latest or run:JOB@latest/PATH';
  if (ref.startsWith('run:')) {
    const m = /^run:([^@/]+)@([^/]+)\/(.+)$/.exec(ref);
    if (!m) return { ok: false, message: `${expected}, got "${ref}"` };
    const [, job = '', which = '', path = ''] = m;
    if (!JOB.test(job)) return { ok: false, message: `"${job}" is not a job name` };
    if (which !== 'latest') return { ok: false, message: `only the latest succeeded run of a job can be named (run:${job}@latest/PATH), got "@${which}"` };
    const safe = safeRelativePath(path.replace(/\/+$/, ''));
    if (safe === null) return { ok: false, message: `"${path}" is not a relative path inside the run's artifacts (no "..", no leading "/")` };
    return { ok: true, spec: { name, ref, source: 'run', job, path: safe } };
  }
  const at = ref.lastIndexOf('@');
  if (at <= 0) return { ok: false, message: `${expected}, got "${ref}"` };
  const snapshot = ref.slice(0, at);
  const version = ref.slice(at + 1);
  if (!SNAPSHOT_NAME.test(snapshot)) return { ok: false, message: `"${snapshot}" is not a snapshot name: use ${SNAPSHOT_NAME_RULE}` };
  if (!VERSION.test(version)) return { ok: false, message: `"${version}" is not a version: use latest or 8 to 64 hex digits of a version id` };
  return { ok: true, spec: { name, ref, source: 'snapshot', snapshot, version } };
}

export interface FileEntry {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

/** The content address of a file list: SHA-256 of its kind and sorted entries, one `sha256 size path` line each. */
export function fileListDigest(kind: 'file' | 'dir', files: readonly FileEntry[]): string {
  const lines = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => `${f.sha256} ${f.size} ${f.path}\n`);
  return createHash('sha256').update(`kairos-snapshot-v1 ${kind}\n`).update(lines.join('')).digest('hex');
}

/** What the worker fetches for one input: its files, to be placed at KAIROS_INPUTS/NAME (a file, or a folder). */
export interface ResolvedInput {
  readonly name: string;
  readonly source: 'snapshot' | 'run';
  readonly ref: string;
  readonly resolved: string;
  readonly kind: 'file' | 'dir';
  readonly digest: string;
  readonly files: readonly FileEntry[];
}

/**
 * Which finished runs of a job lose their artifacts: beyond the newest `runs` ones, or finished more than `days`
 * ago. `finished` is newest first. A null limit does not apply; with both null nothing is removed.
 */
export function beyondRetention<T extends { readonly finishedAt: number }>(finished: readonly T[], policy: RetentionSpec, now: number): T[] {
  return finished.filter((r, i) => (policy.runs !== null && i >= policy.runs) || (policy.days !== null && r.finishedAt < now - policy.days * 86_400_000));
}
