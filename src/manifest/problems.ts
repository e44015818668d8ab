/**
 * Problem codes and the text of problems. A code is stable (scripts and the API classify by it); a message
 * may improve. Every message says what was expected and what was found.
 */
import type { ManifestProblem } from '../model/job.js';

/** Every code a manifest problem can carry, with what it means (the reference page lists this table). */
export const PROBLEM_CODES = {
  unreadable: 'The manifest file cannot be read (missing, a directory without `kairos.yaml`, no permission).',
  yaml_syntax: 'The file is not valid YAML; nothing else is checked until it is.',
  duplicate_key: 'A key appears twice in the same mapping; YAML would silently keep only the last one.',
  unknown_key: 'A key that Kairos does not know (often a typo); the message suggests the closest valid key.',
  missing_key: 'A required key is absent; reported at the mapping that should hold it.',
  invalid_type: 'A value of the wrong kind, e.g. a string where an integer is expected.',
  invalid_value: 'A value of the right kind that is not allowed, e.g. a number out of range or a word not in a list.',
  invalid_name: 'A project, job, pool, environment, param, env var or secret name that is not a safe identifier.',
  invalid_duration: 'A duration that is not written like `30s`, `10m`, `2h` (units `ms`, `s`, `m`, `h`, `d`).',
  invalid_size: 'A memory size that is not written like `512Mi`, `2Gi`, `1G`, `100M` or a number of bytes.',
  invalid_cron: 'A cron expression that does not parse, or that can never fire (such as 30 February).',
  invalid_timezone: 'A time zone that is not an IANA name such as `Europe/Paris` or `UTC`.',
  invalid_path: 'A `workdir` that is absolute or leaves the project directory.',
  invalid_default: "A param's `default` (or `enum` entry) that does not match its `type` or its `enum`.",
  duplicate_name: 'Two names that would become the same environment variable (`KAIROS_PARAM_<NAME>` is upper-cased).',
  reserved_name: 'An env var name that starts with `KAIROS_`, which Kairos sets itself.',
  invalid_url: 'A `notify` webhook that is not an http or https URL, or a `network.needs` endpoint that is not a URL with a port (or a scheme with a default one).',
  credentials_in_url: 'A `network.needs` endpoint with a user or password in it; credentials belong in `secrets`.',
  unknown_reference: 'A `pool`, `environment`, pipeline step, job, param or `map` that names nothing defined in the manifest.',
  cycle: "A pipeline's steps that need one another in a circle (or a step that needs itself).",
  invalid_input_ref: 'An `inputs` entry that is not `SNAPSHOT@VERSION`, `SNAPSHOT@latest` or `run:JOB@latest/PATH`.',
} as const;
export type ProblemCode = keyof typeof PROBLEM_CODES;

/** `FILE:LINE:COL: PATH: message`, the PATH part omitted when the problem is about the whole document. */
export function formatProblem(p: ManifestProblem): string {
  const where = `${p.file}:${p.line}:${p.col}:`;
  return p.path === '' ? `${where} ${p.message}` : `${where} ${p.path}: ${p.message}`;
}

/** Sorted by position, then code; exact duplicates (the same thing found twice) removed. */
export function sortProblems(problems: readonly ManifestProblem[]): ManifestProblem[] {
  const seen = new Set<string>();
  const unique: ManifestProblem[] = [];
  for (const p of problems) {
    const key = `${p.line}:${p.col}:${p.path}:${p.code}:${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(p);
  }
  return unique.sort((a, b) => a.line - b.line || a.col - b.col || a.path.localeCompare(b.path) || a.code.localeCompare(b.code));
}

/** How a value reads in a message: strings quoted, containers named by kind, long text shortened. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'an empty mapping' : 'a mapping';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

/** Quoted, comma-separated names for "allowed: …" and "defined: …" tails; `none` when empty. */
export function listNames(names: readonly string[]): string {
  return names.length === 0 ? 'none' : names.map((n) => `"${n}"`).join(', ');
}

/** Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), case-insensitive. */
function distance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array<number>(t.length).fill(0)]);
  for (let j = 1; j <= t.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= s.length; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  }
  return (d[s.length] as number[])[t.length] as number;
}

/** The candidate closest to `word`, if it is close enough to be a plausible typo; ties go to the first. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(2, Math.round(Math.max(word.length, best.length) * 0.4));
  return bestDistance <= limit && bestDistance < Math.max(word.length, best.length) ? best : undefined;
}

/** `; did you mean "x"?` or nothing; with a `tail`, the tail follows (`; did you mean "x"? allowed: …`). */
export function didYouMean(word: string, candidates: Iterable<string>, tail?: string): string {
  const c = closest(word, candidates);
  const suggestion = c === undefined ? '' : `; did you mean "${c}"?`;
  if (tail === undefined) return suggestion;
  return c === undefined ? `; ${tail}` : `${suggestion} ${tail}`;
}
