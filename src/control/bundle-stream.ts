/**
 * Moving a bundle between machines: one stream of entries, each a JSON header line followed by the file's
 * bytes. The receiving side checks everything before anything is visible: paths (no absolute paths, no
 * `..`, no links leading outside), sizes and counts, every file's SHA-256 and the bundle's hash, then renames
 * the complete directory into place.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, posix } from 'node:path';
import { KairosError } from '../model/errors.js';
import { newId } from '../model/ids.js';
import { bundleDir, bundleHashLine, scanProject, type BundleEntry } from './bundle.js';

export const BUNDLE_LIMITS = { maxFiles: 100_000, maxBytes: 2 * 1024 * 1024 * 1024, maxFileBytes: 1024 * 1024 * 1024 } as const;

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
    throw new KairosError('invalid_input', `bundle entry has an unsafe path: ${JSON.stringify(p)}`);
  }
  const norm = posix.normalize(p);
  if (norm !== p || norm === '..' || norm.startsWith('../') || norm.split('/').some((s) => s === '..' || s === '.' || s === '')) {
    throw new KairosError('invalid_input', `bundle entry has an unsafe path: ${JSON.stringify(p)}`);
  }
  return norm;
}

/** A link target that stays inside the bundle when resolved from the link's own folder. */
export function checkLinkTarget(linkPath: string, target: string): void {
  if (isAbsolute(target)) throw new KairosError('invalid_input', `bundle link ${linkPath} points outside the bundle (absolute target ${target})`);
  const resolved = normalize(join(posix.dirname(linkPath), target));
  if (resolved === '..' || resolved.startsWith('../') || resolved.startsWith('..' + '/')) {
    throw new KairosError('invalid_input', `bundle link ${linkPath} points outside the bundle (${target})`);
  }
}

/** Reads a bundle stream into <dataDir>/bundles/<hash>, checking it whole before it appears there. */
export async function receiveBundle(source: AsyncIterable<Buffer>, dataDir: string, hash: string): Promise<string> {
  const dest = bundleDir(dataDir, hash);
  const tmp = join(dataDir, 'bundles', `.tmp-${newId()}`);
  await mkdir(tmp, { recursive: true });
  const total = createHash('sha256');
  let files = 0;
  let bytes = 0;
  let buf: Buffer = Buffer.alloc(0);
  let current: { entry: BundleEntry; chunks: Buffer[]; left: number } | null = null;
  const finishFile = async (entry: BundleEntry, data: Buffer) => {
    const digest = createHash('sha256').update(data).digest('hex');
    if (digest !== entry.sha256) throw new KairosError('invalid_input', `bundle file ${entry.path} is corrupt (checksum mismatch)`);
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
          if (buf.length > 64 * 1024) throw new KairosError('invalid_input', 'bundle stream has an oversized header');
          break;
        }
        const entry = JSON.parse(buf.subarray(0, nl).toString('utf8')) as BundleEntry;
        buf = buf.subarray(nl + 1);
        checkBundlePath(entry.path);
        if (++files > BUNDLE_LIMITS.maxFiles) throw new KairosError('invalid_input', `bundle has more than ${BUNDLE_LIMITS.maxFiles} files`);
        total.update(bundleHashLine(entry));
        if (entry.kind === 'symlink') {
          checkLinkTarget(entry.path, entry.target ?? '');
          if (createHash('sha256').update(entry.target ?? '').digest('hex') !== entry.sha256) throw new KairosError('invalid_input', `bundle link ${entry.path} is corrupt`);
          const to = join(tmp, ...entry.path.split('/'));
          await mkdir(join(to, '..'), { recursive: true });
          await symlink(entry.target ?? '', to);
          continue;
        }
        if (entry.kind !== 'file' || !Number.isInteger(entry.size) || entry.size < 0 || entry.size > BUNDLE_LIMITS.maxFileBytes) {
          throw new KairosError('invalid_input', `bundle entry ${entry.path} is not a regular file of an allowed size`);
        }
        bytes += entry.size;
        if (bytes > BUNDLE_LIMITS.maxBytes) throw new KairosError('invalid_input', `bundle is larger than ${BUNDLE_LIMITS.maxBytes} bytes`);
        current = { entry, chunks: [], left: entry.size };
      }
    }
    if (current) {
      if (current.left > 0) throw new KairosError('invalid_input', `bundle stream ended inside ${current.entry.path}`);
      await finishFile(current.entry, Buffer.concat(current.chunks));
    }
    if (total.digest('hex') !== hash) throw new KairosError('invalid_input', `bundle content does not match its hash ${hash}`);
    await rename(tmp, dest).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') await rm(tmp, { recursive: true, force: true });
      else throw err;
    });
    return dest;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
