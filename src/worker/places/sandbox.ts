/**
 * The local place's sandbox: each attempt runs in namespaces of its own so that a job sees only what is its own.
 * Two ways to make them, with the same view: the native launcher's own (`native`: ./launcher.c clones the job's
 * namespaces and mounts its view with a few system calls, as root), or bubblewrap (`bwrap`, Debian's
 * `bubblewrap`, which also works for a worker that is not root). What it guarantees, and what it does not, is in
 * docs/isolation.md.
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
import { isAbsolute, resolve } from 'node:path';
import type { RunCommand } from '../../model/job.js';
import { NATIVE_LAUNCHER } from './launchers.js';
import type { ProcessExit } from './local.js';
import { constants as osConstants } from 'node:os';

/**
 * `auto`: the native launcher's namespaces where it can make them (root), else bwrap when it is installed and
 * works, else none; `native` and `bwrap`: that one, required (a worker without it refuses to start).
 */
export type SandboxMode = 'auto' | 'native' | 'bwrap' | 'none';
export const SANDBOX_MODES: readonly SandboxMode[] = ['auto', 'native', 'bwrap', 'none'];

export interface SandboxOptions {
  readonly mode: SandboxMode;
  /** Directories hidden from jobs besides the worker's data directory (e.g. a server's on the same machine). */
  readonly hide?: readonly string[];
  /** Directories every job may read and write (shared with the machine), e.g. a shared scratch or data folder. */
  readonly bind?: readonly string[];
}

/** A sandbox this worker applies to every attempt: null when jobs run unsandboxed. */
export type Sandbox = NativeSandbox | BwrapSandbox;
interface SandboxDirs {
  readonly hide: readonly string[];
  readonly bind: readonly string[];
}
/** Made by the native launcher itself: the launch request carries the view as rules (`sandboxRules`). */
export interface NativeSandbox extends SandboxDirs {
  readonly kind: 'native';
  readonly launcher: string;
}
/** bubblewrap around the command (`sandboxCommand`). */
export interface BwrapSandbox extends SandboxDirs {
  readonly kind: 'bwrap';
  readonly bwrap: string;
  readonly env: string;
}

/** How the worker says it at start: `jobs sandboxed by …`. */
export function sandboxName(sb: Sandbox): string {
  return sb.kind === 'native' ? 'the launcher (namespaces)' : 'bwrap';
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

/** Why the native launcher cannot make the sandbox here (not built, not root, no namespaces), or null when it can. */
let nativeProbed: string | null | undefined;
function probeNative(choice: string | undefined): string | null {
  if (choice === 'node') return 'KAIROS_LAUNCHER=node: the native launcher is not used';
  if (!existsSync(NATIVE_LAUNCHER)) return 'the native launcher is not built (tools/build-launcher.mjs needs a C compiler)';
  if (nativeProbed === undefined) {
    const r = spawnSync(NATIVE_LAUNCHER, ['--probe-sandbox'], { encoding: 'utf8', timeout: 30_000 });
    nativeProbed = r.status === 0 ? null : (r.stdout || r.stderr || r.error?.message || `exit ${r.status}`).trim();
  }
  return nativeProbed;
}

/**
 * The sandbox a worker uses, from its options. Each way is tried once: with `auto`, the native launcher's, else
 * bwrap, else (neither can make namespaces here) jobs run unsandboxed; with `native` or `bwrap`, a machine where
 * that one cannot throws SandboxUnavailable.
 */
export function resolveSandbox(opts: SandboxOptions = { mode: 'auto' }, launcherChoice = process.env.KAIROS_LAUNCHER): Sandbox | null {
  if (opts.mode === 'none') return null;
  const dirs = { hide: (opts.hide ?? []).map((d) => resolve(d)), bind: (opts.bind ?? []).map((d) => resolve(d)) };
  if (opts.mode === 'auto' || opts.mode === 'native') {
    const whyNot = probeNative(launcherChoice);
    if (whyNot === null) return { kind: 'native', launcher: NATIVE_LAUNCHER, ...dirs };
    if (opts.mode === 'native') throw new SandboxUnavailable(`--sandbox native: ${whyNot}; or run with --sandbox bwrap or none`);
  }
  const bwrap = findProgram('bwrap');
  const env = findProgram('env');
  const why = !bwrap || !env ? 'bwrap is not installed (Debian: apt-get install bubblewrap)' : probe(bwrap);
  if (why !== null || !bwrap || !env) {
    if (opts.mode === 'bwrap') throw new SandboxUnavailable(`--sandbox bwrap: ${why ?? 'bwrap is missing'}; or run with --sandbox none`);
    return null;
  }
  return { kind: 'bwrap', bwrap, env, ...dirs };
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

/** The writable files are put back where they are: they must exist. */
function makeWritableFiles(view: SandboxView): void {
  for (const f of view.writableFiles) if (!existsSync(f)) writeFileSync(f, '', { flag: 'a' });
}

/**
 * The native launcher's rules for the view (./launcher.c, "The sandbox"): shared directories first (so that a
 * data directory inside one is still hidden), then what is hidden, then what is put back.
 */
export function sandboxRules(sb: NativeSandbox, view: SandboxView): string[] {
  // The launcher makes a missing writable file itself ('f'), in the job's process rather than on this event loop.
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(p));
  return [
    ...sb.bind.map((d) => `b${abs(d)}`),
    ...[view.dataDir, ...sb.hide].map((d) => `h${abs(d)}`),
    ...view.readOnly.map((d) => `r${abs(d)}`),
    ...view.writable.map((d) => `w${abs(d)}`),
    ...view.writableFiles.map((f) => `f${abs(f)}`),
  ];
}

/** The command that runs `command` inside bubblewrap, with the view given. */
export function sandboxCommand(sb: BwrapSandbox, command: RunCommand, view: SandboxView): RunCommand {
  const inner = command.kind === 'shell' ? ['/bin/sh', '-c', command.script] : [...command.argv];
  makeWritableFiles(view);
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

/**
 * A sandbox's init (bwrap's, or the native launcher's) exits 128+N when the job died of signal N: say it was the
 * signal, as an unsandboxed job's exit would.
 */
export function sandboxExit(exit: ProcessExit): ProcessExit {
  if (exit.signal !== null || exit.exitCode <= 128 || exit.exitCode > 128 + 64) return exit;
  const name = SIGNAL_NAMES[exit.exitCode - 128];
  return name ? { ...exit, signal: name } : exit;
}
