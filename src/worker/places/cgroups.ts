/**
 * Resource limits for one attempt. With cgroups (v2, or v1's memory and cpu controllers) a job gets a cgroup
 * of its own under the worker's: `memory` becomes a hard limit whose breach the kernel answers with an OOM
 * kill (which we read back, so the attempt's reason says so), `cpu` a CFS quota. Without a usable cgroup the
 * launcher falls back to an address-space limit (RLIMIT_AS) and there is no CPU limit. Which one applied is
 * written to the attempt's log.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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
  remove(): Promise<void>;
}

function ownPaths(): Map<string, string> {
  const out = new Map<string, string>();
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

/** A cgroup for one attempt, or null when no controller can be used here (then rlimits apply). */
export function createAttemptCgroup(name: string, limits: Limits): AttemptCgroup | null {
  if (limits.memoryBytes === null && limits.cpu === null) return null;
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
  const md = memDir;
  return {
    procs,
    description: 'cgroup v1',
    oomKilled: () => md !== null && Number(/oom_kill (\d+)/.exec(safeRead(join(md, 'memory.oom_control')))?.[1] ?? 0) > 0,
    remove: async () => {
      for (const d of made) await removeDir(d);
    },
  };
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
