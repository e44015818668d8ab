/**
 * What the server keeps of a run's artifacts: per-run limits on count and total size (in path order, the
 * first that fit are kept; the rest are named in a clear message, never dropped in silence), the content type
 * each is served as, and the check that a path is a safe relative path.
 */
export interface ArtifactLimits {
  /** Files kept per run (all attempts together). */
  readonly maxFiles: number;
  /** Bytes kept per run (all attempts together). */
  readonly maxBytes: number;
}

export const DEFAULT_ARTIFACT_LIMITS: ArtifactLimits = { maxFiles: 1000, maxBytes: 10 * 1024 ** 3 };

export interface ArtifactEntry {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export interface LimitDecision<T extends ArtifactEntry> {
  kept: T[];
  refused: { path: string; reason: string }[];
  /** One line for the run's log when something was refused, else null. */
  message: string | null;
}

export function showSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A relative path of plain segments (no '', '.', '..', backslash or control characters), at most 900 chars. */
export function isSafeArtifactPath(p: string): boolean {
  if (p.length === 0 || p.length > 900 || p.startsWith('/')) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(p)) return false;
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/**
 * Applies the limits to `entries` (sorted by path) given what the run already holds (earlier attempts).
 * Unsafe paths are refused too.
 */
export function applyLimits<T extends ArtifactEntry>(entries: readonly T[], limits: ArtifactLimits, already: { files: number; bytes: number } = { files: 0, bytes: 0 }): LimitDecision<T> {
  const kept: T[] = [];
  const refused: { path: string; reason: string }[] = [];
  let files = already.files;
  let bytes = already.bytes;
  let overCount = 0;
  let overBytes = 0;
  for (const e of [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    if (!isSafeArtifactPath(e.path)) {
      refused.push({ path: e.path, reason: 'not a safe relative path' });
    } else if (files + 1 > limits.maxFiles) {
      refused.push({ path: e.path, reason: `over the limit of ${limits.maxFiles} artifacts per run` });
      overCount++;
    } else if (bytes + e.size > limits.maxBytes) {
      refused.push({ path: e.path, reason: `over the limit of ${showSize(limits.maxBytes)} of artifacts per run` });
      overBytes++;
    } else {
      kept.push(e);
      files++;
      bytes += e.size;
    }
  }
  let message: string | null = null;
  if (refused.length > 0) {
    const parts: string[] = [];
    if (overCount) parts.push(`${overCount} over the limit of ${limits.maxFiles} files per run`);
    if (overBytes) parts.push(`${overBytes} over the limit of ${showSize(limits.maxBytes)} per run`);
    const unsafe = refused.length - overCount - overBytes;
    if (unsafe) parts.push(`${unsafe} with unsafe paths`);
    const names = refused.slice(0, 5).map((r) => r.path).join(', ');
    message = `[kairos] artifacts: ${refused.length} of ${entries.length} not kept (${parts.join(', ')}): ${names}${refused.length > 5 ? ', …' : ''}; ${kept.length} kept (${showSize(bytes - already.bytes)})`;
  }
  return { kept, refused, message };
}

const TYPES: Record<string, string> = {
  csv: 'text/csv; charset=utf-8',
  tsv: 'text/tab-separated-values; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  json: 'application/json',
  jsonl: 'application/jsonl',
  ndjson: 'application/jsonl',
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  pdf: 'application/pdf',
  ipynb: 'application/x-ipynb+json',
  parquet: 'application/vnd.apache.parquet',
  zip: 'application/zip',
  gz: 'application/gzip',
  tar: 'application/x-tar',
  xml: 'application/xml',
  yaml: 'application/yaml',
  yml: 'application/yaml',
};

/** The content type an artifact is served as, from its name. */
export function contentTypeOf(path: string): string {
  const dot = path.lastIndexOf('.');
  const ext = dot > path.lastIndexOf('/') ? path.slice(dot + 1).toLowerCase() : '';
  return TYPES[ext] ?? 'application/octet-stream';
}
