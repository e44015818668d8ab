/**
 * Resource limits for one attempt. With cgroups (v2, or v1's memory and cpu controllers) a job gets a cgroup
 * of its own under the worker's: `memory` becomes a hard limit whose breach the kernel answers with an OOM
 * kill (which we read back, so the attempt's reason says so), `cpu` a CFS quota. Without a usable cgroup the
 * launcher falls back to an address-space limit (RLIMIT_AS) and there is no CPU limit. Which one applied is
 * written to the attempt's log.
 *
 * Every attempt also gets a cgroup for tracking where one can be made (v2, or v1's `pids` hierarchy), limits
 * or not: a process group does not hold a descendant that called setsid(), a cgroup does, so when the attempt
 * ends or is cancelled everything in its cgroup is killed. A sandboxed attempt has a PID namespace that holds
 * every descendant and dies with the job: on cgroup v1 it gets no tracking-only cgroup (v1's `pids` hierarchy
 * would add nothing, and making and removing it costs every run); on v2 it keeps one, whose `memory.events`
 * tells an OOM kill apart from another SIGKILL.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface Limits {
  readonly memoryBytes: number | null;
  readonly cpu: number | null;
}

export interface AttemptCgroup {
  /** `cgroup.procs` files the job's process writes its pid to before it execs. */
  readonly procs: readonly string[];
  readonly description: string;
  /** Whether the kernel killed something in the cgroup for running out of memory. */
  oomKilled(): boolean;
  /** Kills every process in the cgroup, whatever its process group or session, until none is left. */
  killAll(): Promise<void>;
  remove(): Promise<void>;
  /** Whether it enforces the limits asked for (false for a tracking-only cgroup). */
  readonly limited: boolean;
}

/** The worker's own cgroups, read once (a worker is not moved between cgroups while it runs). */
let own: Map<string, string> | null = null;
function ownPaths(): Map<string, string> {
  if (own) return own;
  const out = new Map<string, string>();
  own = out;
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, controllers, path] = line.split(':');
      if (controllers === undefined || path === undefined) continue;
      for (const c of controllers === '' ? ['unified'] : controllers.split(',')) out.set(c, path);
    }
  } catch {
    // not Linux
  }
  return out;
}

function tryWrite(file: string, value: string): boolean {
  try {
    writeFileSync(file, value);
    return true;
  } catch {
    return false;
  }
}

/** Removes a cgroup directory; processes killed a moment ago may still be leaving it, so try a few times. */
async function removeDir(dir: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

const MiB = 1024 * 1024;
const showBytes = (n: number) => (n % (1024 * MiB) === 0 ? `${n / (1024 * MiB)}Gi` : n % MiB === 0 ? `${n / MiB}Mi` : `${n} bytes`);

function pidsIn(dirs: readonly string[]): number[] {
  const pids = new Set<number>();
  for (const d of dirs) for (const l of safeRead(join(d, 'cgroup.procs')).split('\n')) if (l.trim()) pids.add(Number(l));
  return [...pids];
}

/**
 * Kills everything in the cgroups whose `cgroup.procs` files are given, and removes them with `remove`: what the
 * Node.js launcher does when its worker dies (the native launcher does the same in C).
 */
export async function killCgroupsOf(procsFiles: readonly string[], remove: boolean): Promise<void> {
  const dirs = procsFiles.map((f) => dirname(f));
  for (const d of dirs) await killAllIn([d], existsSync(join(d, 'cgroup.kill')) ? join(d, 'cgroup.kill') : null);
  if (remove) for (const d of dirs) await removeDir(d);
}

async function killAllIn(dirs: readonly string[], v2Kill: string | null): Promise<void> {
  if (v2Kill && tryWrite(v2Kill, '1')) {
    for (let i = 0; i < 100 && pidsIn(dirs).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    return;
  }
  // Kill until empty: a process may fork while we read the list.
  for (let i = 0; i < 100; i++) {
    const pids = pidsIn(dirs);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A cgroup for one attempt: with the limits asked for, or for tracking alone when none are. Null when no
 * cgroup can be made here (then an address-space rlimit stands in for a memory limit).
 */
export function createAttemptCgroup(name: string, limits: Limits, opts: { readonly pidNamespace?: boolean } = {}): AttemptCgroup | null {
  const wantsLimits = limits.memoryBytes !== null || limits.cpu !== null;
  // KAIROS_CGROUPS=off: never make cgroups (process groups and rlimits only).
  if (process.env.KAIROS_CGROUPS === 'off') return null;
  const paths = ownPaths();
  // cgroup v2: one hierarchy at /sys/fs/cgroup.
  if (existsSync('/sys/fs/cgroup/cgroup.controllers') && paths.has('unified')) {
    const dir = join('/sys/fs/cgroup', paths.get('unified') ?? '/', name);
    try {
      mkdirSync(dir);
    } catch {
      return null;
    }
    const mem = limits.memoryBytes === null || tryWrite(join(dir, 'memory.max'), String(limits.memoryBytes));
    const cpu = limits.cpu === null || tryWrite(join(dir, 'cpu.max'), `${Math.round(limits.cpu * 100_000)} 100000`);
    if (!mem || !cpu) {
      void removeDir(dir);
      return null;
    }
    return {
      procs: [join(dir, 'cgroup.procs')],
      description: 'cgroup v2',
      limited: wantsLimits,
      killAll: () => killAllIn([dir], existsSync(join(dir, 'cgroup.kill')) ? join(dir, 'cgroup.kill') : null),
      oomKilled: () => /oom_kill (\d+)/.test(safeRead(join(dir, 'memory.events'))) && Number(/oom_kill (\d+)/.exec(safeRead(join(dir, 'memory.events')))?.[1]) > 0,
      remove: () => removeDir(dir),
    };
  }
  // cgroup v1: a directory per controller.
  const made: string[] = [];
  const procs: string[] = [];
  let memDir: string | null = null;
  const v1 = (controller: string, mount: string): string | null => {
    const p = paths.get(controller);
    if (p === undefined || !existsSync(join('/sys/fs/cgroup', mount))) return null;
    const dir = join('/sys/fs/cgroup', mount, p, name);
    try {
      mkdirSync(dir);
    } catch {
      return null;
    }
    made.push(dir);
    return dir;
  };
  if (limits.memoryBytes !== null) {
    memDir = v1('memory', 'memory');
    if (!memDir || !tryWrite(join(memDir, 'memory.limit_in_bytes'), String(limits.memoryBytes))) {
      made.forEach((d) => void removeDir(d));
      return null;
    }
    procs.push(join(memDir, 'cgroup.procs'));
  }
  if (limits.cpu !== null) {
    const cpuDir = v1('cpu', existsSync('/sys/fs/cgroup/cpu') ? 'cpu' : 'cpu,cpuacct');
    if (!cpuDir || !tryWrite(join(cpuDir, 'cpu.cfs_period_us'), '100000') || !tryWrite(join(cpuDir, 'cpu.cfs_quota_us'), String(Math.round(limits.cpu * 100_000)))) {
      made.forEach((d) => void removeDir(d));
      return null;
    }
    procs.push(join(cpuDir, 'cgroup.procs'));
  }
  // Tracking: the pids hierarchy (or the memory one we made) holds every descendant; a PID namespace does too.
  if (memDir === null && !(opts.pidNamespace && !wantsLimits)) {
    const pidsDir = v1('pids', 'pids');
    if (pidsDir) procs.push(join(pidsDir, 'cgroup.procs'));
  }
  if (procs.length === 0) return null;
  const md = memDir;
  const tracked = made.filter((d) => d.includes('/memory/') || d.includes('/pids/'));
  return {
    procs,
    description: 'cgroup v1',
    limited: wantsLimits,
    killAll: () => killAllIn(tracked, null),
    oomKilled: () => md !== null && Number(/oom_kill (\d+)/.exec(safeRead(join(md, 'memory.oom_control')))?.[1] ?? 0) > 0,
    remove: async () => {
      for (const d of made) await removeDir(d);
    },
  };
}

/** Names of a worker's attempt cgroups start with this; a restarted worker cleans up only its own. */
export function cgroupPrefix(workerId: string): string {
  return `kairos-${createHash('sha256').update(workerId).digest('hex').slice(0, 10)}`;
}

/** How long an empty attempt cgroup of another worker is left alone: it may be about to receive its job. */
const EMPTY_CGROUP_AGE_MS = 60_000;

/**
 * Kills what is left in the cgroups a previous incarnation of this worker made, and removes them. Empty attempt
 * cgroups of any worker (a killed server or worker leaves them behind) go too, once a minute old: an attempt
 * that is over has nothing in its cgroup, and one that just started has its job in it within that minute.
 */
export async function cleanupStaleCgroups(workerId: string, now = Date.now()): Promise<number> {
  const prefix = cgroupPrefix(workerId) + '-';
  const paths = ownPaths();
  const parents = existsSync('/sys/fs/cgroup/cgroup.controllers')
    ? [join('/sys/fs/cgroup', paths.get('unified') ?? '/')]
    : [['memory', 'memory'], ['pids', 'pids'], ['cpu', existsSync('/sys/fs/cgroup/cpu') ? 'cpu' : 'cpu,cpuacct']].flatMap(([c, m]) => (paths.has(c ?? '') ? [join('/sys/fs/cgroup', m ?? '', paths.get(c ?? '') ?? '/')] : []));
  let found = 0;
  for (const parent of parents) {
    let names: string[];
    try {
      names = readdirSync(parent).filter((n) => /^kairos-[0-9a-f]{10}-/.test(n));
    } catch {
      continue;
    }
    const stale = names.map((n) => join(parent, n)).filter((dir) => {
      if (dir.slice(parent.length + 1).startsWith(prefix)) return true;
      const old = (statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? now) < now - EMPTY_CGROUP_AGE_MS;
      return old && pidsIn([dir]).length === 0;
    });
    found += stale.length;
    // All at once: a worker that died with a hundred jobs must not wait for them one by one.
    await Promise.all(
      stale.map(async (dir) => {
        await killAllIn([dir], existsSync(join(dir, 'cgroup.kill')) ? join(dir, 'cgroup.kill') : null);
        await removeDir(dir);
      }),
    );
  }
  return found;
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function describeLimits(limits: Limits, how: string): string {
  const parts: string[] = [];
  if (limits.memoryBytes !== null) parts.push(`memory ${showBytes(limits.memoryBytes)}`);
  if (limits.cpu !== null) parts.push(`cpu ${limits.cpu}`);
  return `[kairos] limits: ${parts.join(', ')} (${how})`;
}

export { showBytes };
