/**
 * A deployment's bundle: the project's files (minus what `.gitignore` / `.kairosignore` exclude) copied into
 * a content-addressed directory, `<data>/bundles/<sha256>`. Same files, same hash, same directory: a bundle
 * is never modified after it is written (it is written to a temporary name and renamed into place).
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, lstat, mkdir, readFile, readdir, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { newId } from '../model/ids.js';

/**
 * Never part of a bundle, whatever the ignore files say: version control, the data directory, and editors'
 * swap, lock and backup files (they come and go while a file is saved; bundling them would make a version
 * out of an editor's scratch).
 */
const ALWAYS_IGNORED = ['.git/', '.kairos/', '.hg/', '.svn/', '*.swp', '*.swx', '.#*', '*~'];

export interface BundleEntry {
  readonly path: string; // POSIX, relative to the project root
  readonly kind: 'file' | 'symlink';
  readonly mode: number;
  readonly size: number;
  readonly sha256: string;
  readonly target?: string;
}

export interface ScannedProject {
  readonly root: string;
  readonly entries: readonly BundleEntry[];
  readonly hash: string;
  readonly totalBytes: number;
}

interface IgnoreScope {
  readonly base: string; // relative dir, '' for root
  readonly rules: Ignore;
}

async function loadIgnore(dir: string, base: string, names: readonly string[]): Promise<IgnoreScope | null> {
  const ig = ignore();
  let found = false;
  for (const name of names) {
    try {
      ig.add(await readFile(join(dir, name), 'utf8'));
      found = true;
    } catch {
      // no such ignore file here
    }
  }
  return found ? { base, rules: ig } : null;
}

function isIgnored(scopes: readonly IgnoreScope[], rel: string, isDir: boolean): boolean {
  for (const s of scopes) {
    const within = s.base === '' ? rel : rel.startsWith(s.base + '/') ? rel.slice(s.base.length + 1) : null;
    if (within === null || within === '') continue;
    if (s.rules.ignores(isDir ? within + '/' : within)) return true;
  }
  return false;
}

/** Lists the project's files and computes the bundle hash, without copying anything. */
export async function scanProject(root: string, extraIgnores: readonly string[] = []): Promise<ScannedProject> {
  const always = ignore().add([...ALWAYS_IGNORED, ...extraIgnores]);
  const entries: BundleEntry[] = [];
  let totalBytes = 0;
  async function walk(dir: string, rel: string, scopes: readonly IgnoreScope[]): Promise<void> {
    const own = await loadIgnore(dir, rel, rel === '' ? ['.gitignore', '.kairosignore'] : ['.gitignore']);
    const active = own ? [...scopes, own] : scopes;
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const abs = join(dir, name);
      const st = await lstat(abs);
      const isDir = st.isDirectory();
      if (always.ignores(isDir ? childRel + '/' : childRel) || isIgnored(active, childRel, isDir)) continue;
      if (isDir) {
        await walk(abs, childRel, active);
      } else if (st.isSymbolicLink()) {
        const target = await readlink(abs);
        entries.push({ path: childRel, kind: 'symlink', mode: 0o777, size: 0, sha256: createHash('sha256').update(target).digest('hex'), target });
      } else if (st.isFile()) {
        const data = await readFile(abs);
        totalBytes += data.length;
        entries.push({ path: childRel, kind: 'file', mode: st.mode & 0o111 ? 0o755 : 0o644, size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
      }
      // sockets, fifos and devices are not part of a project
    }
  }
  await walk(root, '', []);
  const h = createHash('sha256');
  for (const e of entries) h.update(bundleHashLine(e));
  return { root, entries, hash: h.digest('hex'), totalBytes };
}

/** What one entry contributes to the bundle's hash (the sender and every receiver compute it alike). */
export function bundleHashLine(e: Pick<BundleEntry, 'kind' | 'path' | 'mode' | 'sha256'>): string {
  return `${e.kind}\0${e.path}\0${e.mode.toString(8)}\0${e.sha256}\n`;
}

export function bundleDir(dataDir: string, hash: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`not a bundle hash: ${hash}`);
  return join(dataDir, 'bundles', hash);
}

/** Copies a scanned project into its content-addressed directory, if it is not there yet. */
export async function writeBundle(dataDir: string, scanned: ScannedProject): Promise<string> {
  const dest = bundleDir(dataDir, scanned.hash);
  try {
    // The directory only ever appears by an atomic rename of a complete copy.
    await stat(dest);
    return dest;
  } catch {
    // not written yet
  }
  const tmp = join(dataDir, 'bundles', `.tmp-${newId()}`);
  await mkdir(tmp, { recursive: true });
  try {
    for (const e of scanned.entries) {
      const to = join(tmp, ...e.path.split('/'));
      if (relative(tmp, to).startsWith('..' + sep)) throw new Error(`refusing path outside the bundle: ${e.path}`);
      await mkdir(join(to, '..'), { recursive: true });
      if (e.kind === 'symlink') {
        await symlink(e.target ?? '', to);
      } else {
        await copyFile(join(scanned.root, ...e.path.split('/')), to);
        // Read-only: runs share the snapshot; a job writes into KAIROS_ARTIFACTS or a temp dir.
        await chmod(to, e.mode & 0o111 ? 0o555 : 0o444);
      }
    }
    await rename(tmp, dest).catch(async (err: NodeJS.ErrnoException) => {
      // Another writer finished the same bundle first: same hash, same content.
      if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') await rm(tmp, { recursive: true, force: true });
      else throw err;
    });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return dest;
}
