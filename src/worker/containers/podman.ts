/**
 * How this worker calls podman: the program, the global options every call gets (its store, runtime, cgroup
 * manager) and the options every container gets (ulimits and the like). Read from the worker's environment
 * (docs/containers.md):
 *
 *   KAIROS_PODMAN            the program (default `podman` on PATH)
 *   KAIROS_PODMAN_ARGS       global options, e.g. `--runtime runc --cgroup-manager cgroupfs --root DIR --runroot DIR`
 *   KAIROS_PODMAN_RUN_ARGS   options of every `podman run` and `podman build`, e.g. `--ulimit nofile=1024:1024`
 *
 * Values are split on white space (no quoting: a path with spaces cannot be given). Every call is an argv
 * array; nothing reaches a shell.
 */
import { execFile, tail, type ExecResult } from '../envs/exec.js';

export interface PodmanSettings {
  readonly command: string;
  /** Before the subcommand: `podman <global> run …`. */
  readonly globalArgs: readonly string[];
  /** Options of every `podman run` and `podman build`. */
  readonly runArgs: readonly string[];
}

const split = (v: string | undefined): string[] => (v ?? '').split(/\s+/).filter((s) => s !== '');

export function podmanSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): PodmanSettings {
  return { command: env.KAIROS_PODMAN?.trim() || 'podman', globalArgs: split(env.KAIROS_PODMAN_ARGS), runArgs: split(env.KAIROS_PODMAN_RUN_ARGS) };
}

/** The value of a global option (`--root DIR` or `--root=DIR`), or null. */
export function globalOption(s: PodmanSettings, name: string): string | null {
  const a = s.globalArgs;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === name) return a[i + 1] ?? null;
    if (a[i]?.startsWith(`${name}=`)) return (a[i] as string).slice(name.length + 1);
  }
  return null;
}

/** The full argv of one podman call. */
export function podmanArgv(s: PodmanSettings, args: readonly string[]): string[] {
  return [s.command, ...s.globalArgs, ...args];
}

/** Runs podman; podman's own environment is the worker's (plus `env`), never shown on a command line. */
export function podman(s: PodmanSettings, args: readonly string[], opts: { timeoutMs?: number; onLine?: (line: string) => void; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return execFile(podmanArgv(s, args), { timeoutMs: opts.timeoutMs ?? 600_000, ...(opts.onLine ? { onLine: opts.onLine } : {}), env: { ...process.env, ...opts.env } });
}

/** podman's last words on a failed call, on one line. */
export function podmanError(r: ExecResult): string {
  const lines = tail(r.stderr || r.stdout, 5);
  return `${r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`}${lines.length > 0 ? `: ${lines.join(' / ')}` : ''}`;
}

/** Whether the cgroup manager is cgroupfs (then Kairos names the container's parent cgroup and reads it back). */
export function usesCgroupfs(s: PodmanSettings): boolean {
  return globalOption(s, '--cgroup-manager') === 'cgroupfs';
}
