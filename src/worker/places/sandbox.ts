/**
 * The local place's sandbox: each attempt runs inside bubblewrap (`bwrap`, Debian's `bubblewrap`) so that a job
 * sees only what is its own. What it guarantees, and what it does not, is in docs/isolation.md.
 *
 * Inside the sandbox:
 * - the machine's file system is visible read-only, except what Kairos keeps: the worker's data directory (and
 *   any directory named with --sandbox-hide) is an empty directory, into which only this attempt's bundle and
 *   environment (read-only) and its artifacts directory and KAIROS_OUTPUT file (writable) are put back, at the
 *   same paths as outside (so a venv's absolute paths and KAIROS_* paths hold);
 * - /tmp, /var/tmp and /dev/shm are the attempt's own, empty, gone when it ends; /dev holds only the usual
 *   devices (no disks);
 * - its own PID namespace: /proc shows only the attempt's processes, so no other job's or Kairos' environment;
 *   and when the attempt's first process ends, the kernel kills everything left in the namespace;
 * - no capabilities, even when the worker runs as root (no mounts, no ptrace, no raw devices).
 *
 * Signals: the launcher signals the attempt's process group (TERM, grace, KILL). bwrap would die of a TERM and
 * take the job with it before its grace period, so bwrap is started with TERM, INT and HUP ignored (`env
 * --ignore-signal`), and the job itself with every signal back to its default (`env --default-signal`).
 * bwrap reports a job killed by signal N as exit status 128+N; `sandboxExit` turns that back into the signal.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunCommand } from '../../model/job.js';
import type { ProcessExit } from './local.js';
import { constants as osConstants } from 'node:os';

/** `auto`: bwrap when it is installed, else none; `bwrap`: required (a worker without it refuses to start). */
export type SandboxMode = 'auto' | 'bwrap' | 'none';
export const SANDBOX_MODES: readonly SandboxMode[] = ['auto', 'bwrap', 'none'];

export interface SandboxOptions {
  readonly mode: SandboxMode;
  /** Directories hidden from jobs besides the worker's data directory (e.g. a server's on the same machine). */
  readonly hide?: readonly string[];
  /** Directories every job may read and write (shared with the machine), e.g. a shared scratch or data folder. */
  readonly bind?: readonly string[];
}

/** A sandbox this worker applies to every attempt: null when jobs run unsandboxed. */
export interface Sandbox {
  readonly bwrap: string;
  readonly env: string;
  readonly hide: readonly string[];
  readonly bind: readonly string[];
}

export class SandboxUnavailable extends Error {
  readonly code = 'sandbox_unavailable';
}

function findProgram(name: string, path = process.env.PATH ?? '/usr/bin:/bin'): string | null {
  for (const dir of [...path.split(':'), '/usr/bin', '/bin']) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

const NAMESPACES = ['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--cap-drop', 'ALL'];

/** Why bwrap cannot make a sandbox here (no namespaces allowed, say, in a container), or null when it can. */
const probed = new Map<string, string | null>();
function probe(bwrap: string): string | null {
  if (!probed.has(bwrap)) {
    const r = spawnSync(bwrap, [...NAMESPACES, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--', 'true'], { encoding: 'utf8', timeout: 30_000 });
    probed.set(bwrap, r.status === 0 ? null : (r.stderr || r.error?.message || `exit ${r.status}`).trim());
  }
  return probed.get(bwrap) ?? null;
}

/**
 * The sandbox a worker uses, from its options. `bwrap` is tried once: with `auto`, a machine where it is missing
 * or cannot make namespaces runs jobs unsandboxed; with `bwrap`, that throws SandboxUnavailable.
 */
export function resolveSandbox(opts: SandboxOptions = { mode: 'auto' }): Sandbox | null {
  if (opts.mode === 'none') return null;
  const bwrap = findProgram('bwrap');
  const env = findProgram('env');
  const why = !bwrap || !env ? 'bwrap is not installed (Debian: apt-get install bubblewrap)' : probe(bwrap);
  if (why !== null || !bwrap || !env) {
    if (opts.mode === 'bwrap') throw new SandboxUnavailable(`--sandbox bwrap: ${why ?? 'bwrap is missing'}; or run with --sandbox none`);
    return null;
  }
  return { bwrap, env, hide: opts.hide ?? [], bind: opts.bind ?? [] };
}

/** What one attempt may see besides the read-only machine. */
export interface SandboxView {
  /** The worker's data directory: hidden, except what is put back below. */
  readonly dataDir: string;
  /** Read-only: the bundle, the environment. */
  readonly readOnly: readonly string[];
  /** Writable directories (the artifacts directory; made before the job starts). */
  readonly writable: readonly string[];
  /** Writable files: made empty here if missing, so they can be put back (KAIROS_OUTPUT). */
  readonly writableFiles: readonly string[];
  readonly cwd: string;
}

/** The command that runs `command` inside the sandbox, with the view given. */
export function sandboxCommand(sb: Sandbox, command: RunCommand, view: SandboxView): RunCommand {
  const inner = command.kind === 'shell' ? ['/bin/sh', '-c', command.script] : [...command.argv];
  for (const f of view.writableFiles) if (!existsSync(f)) writeFileSync(f, '', { flag: 'a' });
  const args = [
    ...NAMESPACES,
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    '/var/tmp',
    '--tmpfs',
    '/dev/shm',
  ];
  // Shared directories first, so that a data directory inside one is still hidden.
  for (const d of sb.bind) if (existsSync(d)) args.push('--bind', d, d);
  for (const d of [view.dataDir, ...sb.hide]) if (existsSync(d)) args.push('--tmpfs', d);
  for (const d of view.readOnly) args.push('--ro-bind', d, d);
  for (const d of [...view.writable, ...view.writableFiles]) args.push('--bind', d, d);
  args.push('--chdir', view.cwd);
  return { kind: 'argv', argv: [sb.env, '--ignore-signal=TERM,INT,HUP', sb.bwrap, ...args, '--', sb.env, '--default-signal', '--', ...inner] };
}

const SIGNAL_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(osConstants.signals).map(([k, v]) => [v, k]));

/** bwrap exits 128+N when the job died of signal N: say it was the signal, as an unsandboxed job's exit would. */
export function sandboxExit(exit: ProcessExit): ProcessExit {
  if (exit.signal !== null || exit.exitCode <= 128 || exit.exitCode > 128 + 64) return exit;
  const name = SIGNAL_NAMES[exit.exitCode - 128];
  return name ? { exitCode: exit.exitCode, signal: name } : exit;
}
