/**
 * Moving a bundle between machines: one stream of entries, each a JSON header line followed by the file's
 * bytes. The receiving side checks everything before anything is visible: paths (no absolute paths, no
 * `..`, no links leading outside), sizes and counts, every file's SHA-256 and the bundle's hash, then renames
 * the complete directory into place.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readlink, realpath, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, posix, relative, sep } from 'node:path';
import { KairosError } from '../model/errors.js';
import { newId } from '../model/ids.js';
import { bundleDir, bundleHashLine, scanProject, type BundleEntry } from './bundle.js';

export interface BundleLimits {
  readonly maxFiles: number;
  readonly maxBytes: number;
  readonly maxFileBytes: number;
}

export const BUNDLE_LIMITS: BundleLimits = { maxFiles: 100_000, maxBytes: 2 * 1024 * 1024 * 1024, maxFileBytes: 1024 * 1024 * 1024 };

/** Why a bundle was refused, in `details.reason` of an `invalid_bundle` error. */
export type BundleProblem = 'unsafe_path' | 'link_outside' | 'too_many_files' | 'too_large' | 'corrupt' | 'hash_mismatch' | 'truncated' | 'bad_entry';

function bad(reason: BundleProblem, message: string): KairosError {
  return new KairosError('invalid_bundle', message, { reason });
}

const entriesCache = new Map<string, readonly BundleEntry[]>();

/** The bundle `hash` as a stream (header line + bytes per entry). */
export async function* streamBundle(dataDir: string, hash: string): AsyncGenerator<Buffer> {
  const dir = bundleDir(dataDir, hash);
  await stat(dir).catch(() => {
    throw new KairosError('not_found', `bundle ${hash} not found`);
  });
  let entries = entriesCache.get(hash);
  if (!entries) {
    entries = (await scanProject(dir)).entries;
    entriesCache.set(hash, entries);
  }
  for (const e of entries) {
    yield Buffer.from(JSON.stringify(e) + '\n');
    if (e.kind === 'file') for await (const chunk of createReadStream(join(dir, ...e.path.split('/')))) yield chunk as Buffer;
  }
}

/** A path inside the bundle, or an error: relative, normalised, no `..`, no empty or odd segments. */
export function checkBundlePath(p: string): string {
  if (typeof p !== 'string' || p === '' || p.includes('\0') || p.includes('\\') || isAbsolute(p) || p.startsWith('/')) {
    throw bad('unsafe_path', `bundle entry has an unsafe path: ${JSON.stringify(p)}`);
  }
  const norm = posix.normalize(p);
  if (norm !== p || norm === '..' || norm.startsWith('../') || norm.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw bad('unsafe_path', `bundle entry has an unsafe path: ${JSON.stringify(p)}`);
  }
  return norm;
}

/** A link target that stays inside the bundle when resolved from the link's own folder. */
export function checkLinkTarget(linkPath: string, target: string): void {
  if (isAbsolute(target)) throw bad('link_outside', `bundle link ${linkPath} points outside the bundle (absolute target ${target})`);
  const resolved = normalize(join(posix.dirname(linkPath), target));
  if (resolved === '..' || resolved.startsWith('../') || resolved.startsWith('..' + '/')) {
    throw bad('link_outside', `bundle link ${linkPath} points outside the bundle (${target})`);
  }
}

/** Reads a bundle stream into <dataDir>/bundles/<hash>, checking it whole before it appears there. */
export async function receiveBundle(source: AsyncIterable<Buffer>, dataDir: string, hash: string, limits: BundleLimits = BUNDLE_LIMITS): Promise<string> {
  const dest = bundleDir(dataDir, hash);
  const tmp = join(dataDir, 'bundles', `.tmp-${newId()}`);
  await mkdir(tmp, { recursive: true });
  const total = createHash('sha256');
  let files = 0;
  let bytes = 0;
  const links = new Set<string>();
  let buf: Buffer = Buffer.alloc(0);
  let current: { entry: BundleEntry; chunks: Buffer[]; left: number } | null = null;
  const finishFile = async (entry: BundleEntry, data: Buffer) => {
    const digest = createHash('sha256').update(data).digest('hex');
    if (digest !== entry.sha256) throw bad('corrupt', `bundle file ${entry.path} is corrupt (checksum mismatch)`);
    const to = join(tmp, ...entry.path.split('/'));
    await mkdir(join(to, '..'), { recursive: true });
    await writeFile(to, data, { flag: 'wx' });
    await chmod(to, entry.mode & 0o111 ? 0o555 : 0o444);
  };
  try {
    for await (const chunk of source) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        if (current) {
          const take = Math.min(current.left, buf.length);
          if (take > 0) {
            current.chunks.push(buf.subarray(0, take));
            current.left -= take;
            buf = buf.subarray(take);
          }
          if (current.left > 0) break;
          await finishFile(current.entry, Buffer.concat(current.chunks));
          current = null;
          continue;
        }
        const nl = buf.indexOf(10);
        if (nl < 0) {
          if (buf.length > 64 * 1024) throw bad('bad_entry', 'bundle stream has an oversized header');
          break;
        }
        let entry: BundleEntry;
        try {
          entry = JSON.parse(buf.subarray(0, nl).toString('utf8')) as BundleEntry;
        } catch {
          throw bad('bad_entry', 'bundle stream has an entry header that is not JSON');
        }
        if (typeof entry !== 'object' || entry === null) throw bad('bad_entry', 'bundle stream has an entry header that is not an object');
        buf = buf.subarray(nl + 1);
        checkBundlePath(entry.path);
        // Nothing is written through a link: a file under a link's path could land outside the bundle.
        for (let i = entry.path.indexOf('/'); i > 0; i = entry.path.indexOf('/', i + 1)) {
          if (links.has(entry.path.slice(0, i))) throw bad('unsafe_path', `bundle entry ${entry.path} lies under the link ${entry.path.slice(0, i)}`);
        }
        if (++files > limits.maxFiles) throw bad('too_many_files', `bundle has more than ${limits.maxFiles} files (the server's limit)`);
        total.update(bundleHashLine(entry));
        if (entry.kind === 'symlink') {
          checkLinkTarget(entry.path, entry.target ?? '');
          if (createHash('sha256').update(entry.target ?? '').digest('hex') !== entry.sha256) throw bad('corrupt', `bundle link ${entry.path} is corrupt`);
          const to = join(tmp, ...entry.path.split('/'));
          await mkdir(join(to, '..'), { recursive: true });
          await symlink(entry.target ?? '', to);
          links.add(entry.path);
          continue;
        }
        if (entry.kind !== 'file' || !Number.isInteger(entry.size) || entry.size < 0 || entry.size > limits.maxFileBytes) {
          throw bad(entry.kind === 'file' && Number.isInteger(entry.size) && entry.size > 0 ? 'too_large' : 'bad_entry', `bundle entry ${entry.path} is not a regular file of an allowed size (at most ${limits.maxFileBytes} bytes)`);
        }
        bytes += entry.size;
        if (bytes > limits.maxBytes) throw bad('too_large', `bundle is larger than ${limits.maxBytes} bytes (the server's limit)`);
        current = { entry, chunks: [], left: entry.size };
      }
    }
    if (current) {
      if (current.left > 0) throw bad('truncated', `bundle stream ended inside ${current.entry.path}`);
      await finishFile(current.entry, Buffer.concat(current.chunks));
    }
    if (total.digest('hex') !== hash) throw bad('hash_mismatch', `bundle content does not match its hash ${hash}`);
    await checkLinksStayInside(tmp);
    await rename(tmp, dest).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') await rm(tmp, { recursive: true, force: true });
      else throw err;
    });
    return dest;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR') throw bad('bad_entry', 'bundle has two entries for one path (or a file where a folder is needed)');
    throw err;
  }
}

/**
 * Every link, resolved by the file system, stays inside `root`. The per-entry check is lexical; this one
 * catches chains such as `d -> .` plus `x -> d/..`, which look inside but lead out.
 */
async function checkLinksStayInside(root: string): Promise<void> {
  const realRoot = await realpath(root);
  const inside = (p: string) => p === realRoot || p.startsWith(realRoot + sep);
  async function walk(dir: string): Promise<void> {
    for (const name of await readdir(dir)) {
      const abs = join(dir, name);
      const st = await lstat(abs);
      if (st.isDirectory()) await walk(abs);
      else if (st.isSymbolicLink()) {
        let resolved: string;
        try {
          resolved = await realpath(abs);
        } catch {
          // Dangling: its folder must resolve inside, and its target lexically from there.
          resolved = join(await realpath(dirname(abs)), await readlink(abs));
        }
        if (!inside(resolved)) throw bad('link_outside', `bundle link ${relative(root, abs).split(sep).join('/')} points outside the bundle`);
      }
    }
  }
  await walk(root);
}

/** A scanned project as a bundle stream, counting bytes as they go (`onBytes`). */
export async function* streamScanned(root: string, entries: readonly BundleEntry[], onBytes?: (n: number) => void): AsyncGenerator<Buffer> {
  for (const e of entries) {
    const head = Buffer.from(JSON.stringify(e) + '\n');
    onBytes?.(head.length);
    yield head;
    if (e.kind === 'file') {
      for await (const chunk of createReadStream(join(root, ...e.path.split('/')))) {
        onBytes?.((chunk as Buffer).length);
        yield chunk as Buffer;
      }
    }
  }
}
