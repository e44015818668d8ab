/**
 * The local place's container mode: an attempt whose spec names an image runs as `podman run` (started by the
 * launcher like any local process, so its output is streamed the same way), in a container named after the
 * attempt. What the container gets (docs/containers.md):
 *
 * - the attempt's paths bind-mounted at the same paths (bundle and inputs read-only, artifacts and the
 *   metrics file writable) and its cwd as the working directory, so every KAIROS_* path means the same inside;
 * - the job's variables and secrets as `--env NAME`: podman copies the value from its own environment (which
 *   only root and the worker's user can read), never from its command line, and nothing is written to the image;
 * - `--memory`/`--memory-swap` and `--cpus` from the resources, the attempt's GPUs as devices, the network of
 *   the environment (`host` or `none`), `--init` so signals reach the job and orphans are reaped;
 * - a cancel or time limit is `podman kill` (TERM, grace, KILL); afterwards the container is removed whatever
 *   happened, and so is its parent cgroup. A worker that died leaves containers behind: the next incarnation
 *   removes those with its label before it starts any.
 *
 * Out of memory: podman does not always say OOMKilled. With the cgroupfs manager Kairos names the container's
 * parent cgroup, which outlives the container: an exit of 137 under a memory limit whose parent's peak usage
 * reached the limit is an out-of-memory kill.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import type { RunCommand } from '../../model/job.js';
import { podman, podmanArgv, usesCgroupfs, type PodmanSettings } from '../containers/podman.js';
import { containerRunArgs } from '../containers/run-args.js';
import type { Launcher, LocalProcess, ProcessExit } from './local.js';
import type { PlaceAttemptSpec } from './place.js';

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

export interface ContainerRunOptions {
  readonly podman: PodmanSettings;
  readonly launcher: Launcher;
  /** Label of this worker's containers (and prefix of their parent cgroups). */
  readonly workerLabel: string;
}

export interface ContainerExit extends ProcessExit {
  /** The kernel killed it for running out of memory (as far as can be told). */
  readonly oom: boolean;
}

/** The cgroup v1 memory controller's (or v2's) directory of a cgroupfs parent, when it exists. */
function memoryPeakReached(parent: string, limit: number): boolean {
  const v1 = join('/sys/fs/cgroup/memory', parent);
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  const peak = Number(read(join(v1, 'memory.max_usage_in_bytes')).trim() || read(join(v1, 'memory.memsw.max_usage_in_bytes')).trim() || 0);
  if (peak > 0) return peak >= limit * 0.98;
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers') ? join('/sys/fs/cgroup', parent) : join('/sys/fs/cgroup/unified', parent);
  const m = /oom_kill (\d+)/.exec(read(join(v2, 'memory.events')));
  return m !== null && Number(m[1]) > 0;
}

/** Removes a cgroupfs parent and what podman left under it (conmon's cgroup) in every hierarchy. */
function removeCgroupParent(parent: string): void {
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : readdirSync('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
  const rmTree = (dir: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) rmTree(join(dir, e));
    try {
      rmdirSync(dir);
    } catch {
      // busy or gone
    }
  };
  for (const r of roots) rmTree(join(r, parent));
}

/** A started container attempt: signals go to the container (podman kill); the end says whether it ran out of memory. */
export async function runContainer(
  o: ContainerRunOptions,
  spec: PlaceAttemptSpec,
  env: Readonly<Record<string, string>>,
  devices: readonly string[],
  stopped: () => boolean,
): Promise<{ proc: LocalProcess; ended: Promise<ContainerExit> }> {
  const cgroupParent = usesCgroupfs(o.podman) ? `/${o.workerLabel}-${spec.name.replace(/^kairos-/, '')}` : null;
  for (const d of spec.paths.writable) mkdirSync(d, { recursive: true });
  for (const f of spec.paths.writableFiles) {
    mkdirSync(dirname(f), { recursive: true });
    if (!existsSync(f)) writeFileSync(f, '', { mode: 0o644 });
  }
  const { args, podmanEnv } = containerRunArgs(o, spec, env, devices, cgroupParent);
  // A container of the same name left by an earlier try (a retry of a start that failed half-way).
  await podman(o.podman, ['rm', '--force', '--time', '0', spec.name], { timeoutMs: 120_000 });
  const first = spec.paths.writable[0];
  const proc = await o.launcher.launch({
    command: { kind: 'argv', argv: podmanArgv(o.podman, args) },
    cwd: '/',
    env: podmanEnv,
    mkdirs: [],
    ...(first !== undefined ? { spool: `${first}.spool` } : {}),
    ...(spec.pace ? { pace: () => spec.pace?.() ?? Promise.resolve() } : {}),
    onLines: (stream, lines, more) => spec.onLines(stream, lines, more),
  });
  const container: LocalProcess = {
    pid: proc.pid,
    procStart: proc.procStart,
    startedAt: proc.startedAt,
    exited: proc.exited,
    signalGroup: (signal) => {
      void podman(o.podman, ['kill', '--signal', signal, spec.name], { timeoutMs: 60_000 }).then((r) => {
        // Not created yet (or already gone): a KILL ends `podman run` itself; whatever it made is removed below.
        if (r.code !== 0 && signal === 'SIGKILL') proc.signalGroup('SIGKILL');
      });
    },
  };
  const ended = (async (): Promise<ContainerExit> => {
    const exit = await proc.exited;
    const limit = spec.resources.memoryBytes;
    let oom = false;
    if (limit !== undefined && exit.exitCode === 137 && !stopped()) {
      const r = await podman(o.podman, ['inspect', '--format', '{{.State.OOMKilled}}', spec.name], { timeoutMs: 60_000 });
      oom = r.stdout.trim() === 'true' || (cgroupParent !== null && memoryPeakReached(cgroupParent, limit));
    }
    await podman(o.podman, ['rm', '--force', '--volumes', '--time', '0', spec.name], { timeoutMs: 120_000 });
    if (cgroupParent) removeCgroupParent(cgroupParent);
    // `podman run` exits 128+N when a signal ended the job (125-127: podman's own errors or a command that cannot run).
    const sig = exit.signal === null && exit.exitCode > 128 && exit.exitCode < 160 ? SIGNAL_NAMES.get(exit.exitCode - 128) : undefined;
    return { exitCode: exit.exitCode, signal: exit.signal ?? sig ?? null, oom };
  })();
  return { proc: container, ended };
}

/** Removes this worker's containers left by an earlier incarnation (attempts die with the worker). */
export async function removeStaleContainers(o: ContainerRunOptions, keep: ReadonlySet<string>): Promise<number> {
  const r = await podman(o.podman, ['ps', '--all', '--filter', `label=kairos.worker=${o.workerLabel}`, '--format', '{{.Names}}'], { timeoutMs: 120_000 });
  if (r.code !== 0) return 0;
  const names = r.stdout.split('\n').map((l) => l.trim()).filter((n) => n !== '' && !keep.has(n));
  for (const n of names) {
    await podman(o.podman, ['rm', '--force', '--volumes', '--time', '0', n], { timeoutMs: 120_000 });
    if (usesCgroupfs(o.podman)) removeCgroupParent(`/${o.workerLabel}-${n.replace(/^kairos-/, '')}`);
  }
  return names.length;
}
