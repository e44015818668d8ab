/** Package names and file names, as PEP 503, PEP 427 (wheels) and PEP 625 (sdists) spell them. */

/** PEP 503 normalization: lowercase, runs of `-`, `_`, `.` become one `-`. */
export function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** A valid project name (PEP 508 / core metadata): letters and digits, with `.`, `_`, `-` inside. */
export function validName(name: string): boolean {
  return name.length <= 200 && /^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$/.test(name);
}

/** A PEP 440-ish version: what the index accepts (letters, digits, `.`, `+`, `!`, `-`, `_`). */
export function validVersion(v: string): boolean {
  return v.length <= 100 && /^[A-Za-z0-9][A-Za-z0-9.+!_-]*$/.test(v);
}

/** PEP 440 normalization light: lowercase, leading `v` dropped. Enough to compare a filename with metadata. */
export function normalizeVersion(v: string): string {
  return v.trim().toLowerCase().replace(/^v/, '').replace(/[-_]/g, '.');
}

export interface ParsedFilename {
  readonly kind: 'wheel' | 'sdist';
  /** The distribution name as in the filename (underscores for wheels). */
  readonly name: string;
  readonly version: string;
}

/** Splits a wheel or sdist filename; null for anything else (or a name with a path in it). */
export function parseFilename(filename: string): ParsedFilename | null {
  if (filename.length > 255 || !/^[A-Za-z0-9][A-Za-z0-9._+!-]*$/.test(filename)) return null;
  if (filename.endsWith('.whl')) {
    const parts = filename.slice(0, -4).split('-');
    if (parts.length !== 5 && parts.length !== 6) return null;
    const [name, version] = parts;
    if (!name || !version) return null;
    return { kind: 'wheel', name, version };
  }
  const m = /^(.+)-([^-]+)\.(tar\.gz|zip)$/.exec(filename);
  if (!m?.[1] || !m[2]) return null;
  return { kind: 'sdist', name: m[1], version: m[2] };
}

/** Escapes text for HTML (element content and quoted attributes). */
export function html(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
