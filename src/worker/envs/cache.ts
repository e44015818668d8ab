/**
 * The environment cache of one machine, shared by every worker and run on it: `<data>/envs/<hash>` is a
 * symlink to the built environment in `<data>/envs/.store/<hash>-<random>`.
 *
 * A build happens in its final directory under `.store` (a virtual environment's scripts hold absolute
 * paths, so it cannot be moved once built), and only a complete build is published, by renaming a symlink
 * into place: no one ever sees a half-built environment, and a failed build leaves nothing behind. One
 * process builds a given hash while the others wait on its lock file. Environments not used for a while, or
 * beyond the cache's size, are evicted, least recently used first, never while a run uses them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { lstat, readdir, readFile, readlink, rename, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CompiledEnvironment } from '../../model/job.js';
import { parseSize } from '../../manifest/fields.js';
import { parseDuration } from '../../model/duration.js';
import { buildEnvironment, environmentVars, type Package } from './builders.js';
import { environmentInputs, EnvError } from './inputs.js';
import { isLocked, withLock } from './lock.js';
import type { InternalIndex } from './index-proxy.js';

export interface EnvRecord {
  readonly hash: string;
  readonly name: string;
  readonly kind: CompiledEnvironment['kind'];
  readonly inputs: Record<string, unknown>;
  readonly packages: readonly Package[];
  readonly built_at: string;
  readonly build_ms: number;
  readonly size_bytes: number;
  /** Set when the environment was built from a recorded package list (a rerun) rather than its requirements. */
  readonly pinned: boolean;
}

export interface PreparedEnv {
  readonly hash: string;
  readonly dir: string;
  readonly packages: readonly Package[];
  readonly vars: Readonly<Record<string, string>>;
  /** True when this call built it (false: reused). */
  readonly built: boolean;
  /** Ends this run's use of the environment (eviction may then remove it). */
  release(): Promise<void>;
}

export interface Pinned {
  readonly hash: string;
  readonly packages: readonly Package[];
}

export interface EnvCacheOptions {
  /** Evict least recently used environments beyond this total size. */
  readonly maxBytes?: number;
  /** Evict environments unused for longer than this. */
  readonly maxAgeMs?: number;
}

export const ENV_CACHE_DEFAULTS = { maxBytes: 20 * 1024 ** 3, maxAgeMs: 30 * 24 * 3600_000 } as const;

/**
 * Limits from the worker's environment: KAIROS_ENV_CACHE_SIZE (`20Gi`, `500M`, bytes) and
 * KAIROS_ENV_CACHE_AGE (`30d`, `12h`). A value that does not parse is an error, not a silent default.
 */
export function envCacheOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): EnvCacheOptions {
  const out: { maxBytes?: number; maxAgeMs?: number } = {};
  const size = env.KAIROS_ENV_CACHE_SIZE;
  if (size) {
    const bytes = parseSize(size);
    if (bytes === null) throw new EnvError(`KAIROS_ENV_CACHE_SIZE must be a size such as 20Gi or 500M, got "${size}"`);
    out.maxBytes = bytes;
  }
  const age = env.KAIROS_ENV_CACHE_AGE;
  if (age) {
    const ms = parseDuration(age);
    if (ms === null) throw new EnvError(`KAIROS_ENV_CACHE_AGE must be a duration such as 30d or 12h, got "${age}"`);
    out.maxAgeMs = ms;
  }
  return out;
}

const RECORD = 'kairos-env.json';
const LAST_USED = '.kairos-last-used';
const HASH = /^[0-9a-f]{64}$/;

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function duBytes(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) total += (await lstat(p)).size;
    }
  };
  await walk(dir).catch(() => {});
  return total;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class EnvCache {
  readonly root: string;
  /** The team's package index: Python environments resolve internal names from it alone (index-proxy.ts). */
  internalIndex: InternalIndex | null = null;
  private readonly store: string;
  private readonly locks: string;
  private readonly inUse: string;

  constructor(
    root: string,
    private readonly opts: EnvCacheOptions = {},
  ) {
    this.root = root;
    this.store = path.join(root, '.store');
    this.locks = path.join(root, '.locks');
    this.inUse = path.join(root, '.in-use');
    for (const d of [this.store, this.locks, this.inUse]) mkdirSync(d, { recursive: true });
  }

  /** The built environment's record, or null when `hash` is not built here. */
  async lookup(hash: string): Promise<EnvRecord | null> {
    try {
      return JSON.parse(await readFile(path.join(this.root, hash, RECORD), 'utf8')) as EnvRecord;
    } catch {
      return null;
    }
  }

  /**
   * Makes `env` ready for a run of the project in `projectDir` (the deployment's bundle): reuses the built
   * environment with the same content hash, or builds it (once, whoever else asks at the same moment).
   * With `pinned` (a rerun), the environment recorded with the original run is used: the one with its hash
   * if it still holds the same packages, else one built from exactly that package list.
   */
  async prepare(env: CompiledEnvironment, projectDir: string, log: (line: string) => void, pinned: Pinned | null = null): Promise<PreparedEnv> {
    const inputs = await environmentInputs(env, projectDir, { internalIndex: this.internalIndex !== null });
    // What the attempt records: the original's hash for a rerun, else this project's inputs.
    const hash = pinned?.hash ?? inputs.hash;
    let key = hash;
    // Marked in use before it is looked up, so an eviction running meanwhile cannot remove it under us.
    let marker = await this.mark(key);
    let record = await this.lookup(key);
    if (pinned && (!record || !samePackages(record.packages, pinned.packages))) {
      // The original's environment is gone or was rebuilt with other versions: use its exact package list.
      await unlink(marker).catch(() => {});
      key = createHash('sha256').update(JSON.stringify({ pinned: pinned.hash, packages: pinned.packages })).digest('hex');
      marker = await this.mark(key);
      record = await this.lookup(key);
    }
    let built = false;
    if (!record) {
      try {
        ({ record, built } = await this.buildOnce(env, key, projectDir, inputs, pinned, log));
      } catch (err) {
        await unlink(marker).catch(() => {});
        throw err;
      }
      // Eviction after a build, in the background: it never delays a run.
      if (built) void this.evict().catch(() => {});
    }
    const dir = await this.realDir(key);
    const now = new Date();
    await utimes(path.join(dir, LAST_USED), now, now).catch(() => writeFile(path.join(dir, LAST_USED), ''));
    const held = marker;
    return { hash, dir, packages: record.packages, vars: environmentVars(env, dir), built, release: () => unlink(held).catch(() => {}) };
  }

  private async mark(key: string): Promise<string> {
    const marker = path.join(this.inUse, `${key}.${process.pid}.${randomBytes(4).toString('hex')}`);
    await writeFile(marker, '');
    return marker;
  }

  private async realDir(key: string): Promise<string> {
    const link = path.join(this.root, key);
    return path.resolve(this.root, await readlink(link));
  }

  private async buildOnce(
    env: CompiledEnvironment,
    key: string,
    projectDir: string,
    inputs: Awaited<ReturnType<typeof environmentInputs>>,
    pinned: Pinned | null,
    log: (line: string) => void,
  ): Promise<{ record: EnvRecord; built: boolean }> {
    const short = key.slice(0, 12);
    return withLock(
      path.join(this.locks, `${key}.lock`),
      async () => {
        // Whoever held the lock before us may have built it.
        const ready = await this.lookup(key);
        if (ready) {
          log(`[kairos] environment ${env.name} (${short}) is ready`);
          return { record: ready, built: false };
        }
        const dir = path.join(this.store, `${key}-${randomBytes(4).toString('hex')}`);
        const started = Date.now();
        const what = env.kind === 'python' ? `python ${env.interpreter}${env.requirements ? `, ${env.requirements}` : ''}` : env.kind === 'node' ? `npm ci, ${env.packageJson}` : 'system';
        log(`[kairos] building environment ${env.name} (${what}${pinned ? `, the ${pinned.packages.length} packages recorded with the original run` : ''}) ${short}: once per content hash, then reused`);
        const ticker = setInterval(() => log(`[kairos] still building environment ${env.name} (${Math.round((Date.now() - started) / 1000)} s)`), 10_000);
        try {
          const packages = await buildEnvironment(env, inputs.interpreter, { projectDir, dir, pinned: pinned?.packages ?? null, onLine: (l) => (/^\[kairos\]/.test(l) ? log(l) : undefined), internalIndex: this.internalIndex });
          const record: EnvRecord = {
            hash: key,
            name: env.name,
            kind: env.kind,
            inputs: inputs.described,
            packages,
            built_at: new Date().toISOString(),
            build_ms: Date.now() - started,
            size_bytes: await duBytes(dir),
            pinned: pinned !== null,
          };
          await writeFile(path.join(dir, RECORD), JSON.stringify(record, null, 2) + '\n');
          await writeFile(path.join(dir, LAST_USED), '');
          // Publish: a symlink renamed over the name is atomic; readers see nothing or the complete build.
          const tmpLink = path.join(this.root, `.tmp-${key}-${randomBytes(4).toString('hex')}`);
          await symlink(path.relative(this.root, dir), tmpLink);
          await rename(tmpLink, path.join(this.root, key));
          log(`[kairos] environment ${env.name} built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${packages.length} package${packages.length === 1 ? '' : 's'}`);
          return { record, built: true };
        } catch (err) {
          await rm(dir, { recursive: true, force: true });
          throw err instanceof EnvError ? new EnvError(`environment ${env.name} could not be built: ${err.message}`) : err;
        } finally {
          clearInterval(ticker);
        }
      },
      { onWait: (pid) => log(`[kairos] waiting for environment ${env.name} (${short}), which ${pid === null ? 'another process' : `process ${pid}`} is building`) },
    );
  }

  /** Hashes some live run is using right now. */
  private async inUseKeys(): Promise<Set<string>> {
    const keys = new Set<string>();
    for (const name of await readdir(this.inUse).catch(() => [] as string[])) {
      const [key, pid] = name.split('.');
      if (key && pid && alive(Number(pid))) keys.add(key);
      else await unlink(path.join(this.inUse, name)).catch(() => {});
    }
    return keys;
  }

  /**
   * Removes environments unused for longer than the maximum age, then the least recently used ones until
   * the total fits the maximum size; never one in use or being built. Also clears leftovers of builds that
   * died with their process. Returns the hashes removed.
   */
  async evict(now = Date.now()): Promise<string[]> {
    const maxBytes = this.opts.maxBytes ?? ENV_CACHE_DEFAULTS.maxBytes;
    const maxAgeMs = this.opts.maxAgeMs ?? ENV_CACHE_DEFAULTS.maxAgeMs;
    const busy = await this.inUseKeys();
    const entries: { key: string; lastUsed: number; size: number; target: string }[] = [];
    const published = new Set<string>();
    for (const name of await readdir(this.root)) {
      const link = path.join(this.root, name);
      if (name.startsWith('.tmp-')) {
        // A symlink left by a process that died between symlink and rename.
        const st = await lstat(link).catch(() => null);
        if (st && now - st.mtimeMs > 60_000) await unlink(link).catch(() => {});
        continue;
      }
      if (!HASH.test(name)) continue;
      const target = await this.realDir(name).catch(() => null);
      if (!target) continue;
      published.add(path.basename(target));
      const record = await this.lookup(name);
      const lastUsed = (await stat(path.join(target, LAST_USED)).catch(() => null))?.mtimeMs ?? 0;
      entries.push({ key: name, lastUsed, size: record?.size_bytes ?? 0, target });
    }
    const removed: string[] = [];
    const remove = async (e: (typeof entries)[number]) => {
      // Unpublish first (atomic), then delete: a run that looks it up now builds a fresh one.
      // Tolerant of a concurrent eviction that got there first.
      await unlink(path.join(this.root, e.key)).catch(() => {});
      await rm(e.target, { recursive: true, force: true });
      removed.push(e.key);
    };
    let total = entries.reduce((s, e) => s + e.size, 0);
    for (const e of [...entries].sort((a, b) => a.lastUsed - b.lastUsed)) {
      if (busy.has(e.key) || (await isLocked(path.join(this.locks, `${e.key}.lock`)))) continue;
      if (now - e.lastUsed > maxAgeMs || total > maxBytes) {
        await remove(e);
        total -= e.size;
      }
    }
    // Build directories no symlink points to: a failed build cleans up after itself, a killed one cannot.
    for (const name of await readdir(this.store)) {
      if (published.has(name)) continue;
      const key = name.slice(0, 64);
      if (await isLocked(path.join(this.locks, `${key}.lock`))) continue;
      await rm(path.join(this.store, name), { recursive: true, force: true });
    }
    return removed;
  }

  /** Whether `hash` is built here (for tests and `kairos check`). */
  has(hash: string): Promise<boolean> {
    return exists(path.join(this.root, hash, RECORD));
  }
}

function samePackages(a: readonly Package[], b: readonly Package[]): boolean {
  const norm = (ps: readonly Package[]) => JSON.stringify([...ps].map((p) => `${p.name.toLowerCase()}==${p.version}`).sort());
  return norm(a) === norm(b);
}

