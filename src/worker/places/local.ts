/**
 * The local place: the attempt's command as a process on this machine, in its own process group, so that a
 * timeout or cancel (TERM, grace, KILL) reaches every process it started, grandchildren included.
 * Processes are started by a small launcher process (./launcher-main.ts) on the worker's behalf.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RunCommand } from '../../model/job.js';
import { newId } from '../../model/ids.js';

export interface LaunchSpec {
  readonly command: RunCommand;
  readonly cwd: string;
  /** Variables added to the worker's base environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Directories to create (recursively) before the process starts. */
  readonly mkdirs: readonly string[];
  /** cgroup.procs files the process joins before it execs (resource limits). */
  readonly cgroupProcs?: readonly string[];
  /** An address-space limit in bytes (RLIMIT_AS), where no cgroup could be used. */
  readonly rlimitAs?: number;
  /**
   * A file the native launcher spools the output to, so the job never waits for the worker; the worker reads
   * it behind the job. (The Node.js launcher relays output directly and ignores it.)
   */
  readonly spool?: string;
  /** The native sandbox's rules (./sandbox.ts `sandboxRules`): only the native launcher can make it. */
  readonly sandbox?: readonly string[];
  /** Awaited between chunks of spooled output: lets the log's consumer hold the reader back. */
  readonly pace?: () => Promise<void>;
  /** `more`: the last of `lines` is a piece of a longer line that goes on. */
  readonly onLines: (stream: 'stdout' | 'stderr', lines: readonly string[], more?: boolean) => void;
}

export interface ProcessExit {
  /** The exit status, or 128 + signal number when a signal ended it (as shells report it). */
  readonly exitCode: number;
  readonly signal: string | null;
  /**
   * Some of the job's output was lost because the disk under its output spool filled (the native launcher
   * only: stderr it could not spool, or the job's own failed writes to its stdout file).
   */
  readonly outputLost?: boolean;
}

export interface LocalProcess {
  readonly pid: number;
  readonly procStart: string | null;
  /** Epoch ms at which the process started. */
  readonly startedAt: number;
  readonly exited: Promise<ProcessExit>;
  /** Signals the whole process group. Safe to call after it is gone. */
  signalGroup(signal: NodeJS.Signals): void;
}

/** The start time of a process from /proc (clock ticks since boot), or null where /proc is unavailable. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** What a launcher knows of a job it started, enough to end it when the launcher itself dies. */
export interface StartedJob {
  readonly pid: number | null;
  readonly rejectStart: (e: Error) => void;
  readonly resolveExit: (e: ProcessExit) => void;
}

/** The launcher died under its jobs: they are killed (it does so on the way out, or this does) and ended. */
export function endOrphanedJobs(jobs: Map<string, StartedJob>): void {
  for (const [id, j] of jobs) {
    if (j.pid !== null) signalGroup(j.pid, 'SIGKILL');
    j.rejectStart(new Error('the launcher process exited'));
    j.resolveExit({ exitCode: 137, signal: 'SIGKILL' });
    jobs.delete(id);
  }
}

/** Kills a process group left by an earlier incarnation of this worker, if its leader is the same process. */
export function killStaleGroup(pid: number, procStart: string | null): boolean {
  if (procStart === null || processStartTime(pid) !== procStart) return false;
  return signalGroup(pid, 'SIGKILL');
}

interface Pending {
  readonly spec: LaunchSpec;
  readonly exited: Promise<ProcessExit>;
  readonly resolveStart: (p: LocalProcess) => void;
  readonly rejectStart: (e: Error) => void;
  readonly resolveExit: (e: ProcessExit) => void;
  pid: number | null;
}

type Out =
  | { t: 'started'; id: string; pid: number; procStart: string | null; at: number }
  | { t: 'lines'; id: string; stream: 'stdout' | 'stderr'; lines: string[]; more?: boolean }
  | { t: 'exit'; id: string; exitCode: number; signal: string | null }
  | { t: 'error'; id: string; message: string };

const LAUNCHER_MAIN = fileURLToPath(new URL('./launcher-main.js', import.meta.url));
/** Starts jobs on this machine. */
export interface Launcher {
  launch(spec: LaunchSpec): Promise<LocalProcess>;
  /** Kill every job unless this is called again within `ms` (0 turns it off): for a worker that gets stuck. */
  watchdog(ms: number): void;
  close(): void;
}

export class NodeLauncher implements Launcher {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<string, Pending>();
  private closing = false;

  /** `baseEnv`: the environment every job starts from; each launch adds its own variables on top. */
  constructor(private readonly baseEnv: Readonly<Record<string, string>>) {}

  private ensure(): ChildProcess {
    if (this.child && this.child.connected) return this.child;
    const child = fork(LAUNCHER_MAIN, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [], env: { ...this.baseEnv } });
    child.on('message', (m: Out) => this.onMessage(m));
    // A send into a channel that just closed, or a failed start: its jobs end as if it had exited.
    child.on('error', () => {
      if (this.child === child) this.child = null;
      endOrphanedJobs(this.pending);
    });
    child.on('exit', () => {
      if (this.child === child) this.child = null;
      endOrphanedJobs(this.pending);
    });
    this.child = child;
    return child;
  }

  private onMessage(m: Out): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    switch (m.t) {
      case 'started':
        p.pid = m.pid;
        p.resolveStart({
          pid: m.pid,
          procStart: m.procStart,
          startedAt: m.at,
          exited: p.exited,
          signalGroup: (signal) => this.child?.send({ t: 'signal', id: m.id, signal }),
        });
        break;
      case 'lines':
        p.spec.onLines(m.stream, m.lines, m.more === true);
        break;
      case 'exit':
        this.pending.delete(m.id);
        p.resolveExit({ exitCode: m.exitCode, signal: m.signal });
        break;
      case 'error':
        this.pending.delete(m.id);
        p.rejectStart(new Error(m.message));
        break;
    }
  }

  launch(spec: LaunchSpec): Promise<LocalProcess> {
    if (this.closing) return Promise.reject(new Error('the launcher is closed'));
    // Never run unsandboxed what was meant to be sandboxed (resolveSandbox chooses native only with the native launcher).
    if (spec.sandbox && spec.sandbox.length > 0) return Promise.reject(new Error('the native sandbox needs the native launcher'));
    const id = newId();
    const [file, ...args] = spec.command.kind === 'shell' ? ['/bin/sh', '-c', spec.command.script] : spec.command.argv;
    return new Promise<LocalProcess>((resolveStart, rejectStart) => {
      let resolveExit: (e: ProcessExit) => void = () => {};
      const exited = new Promise<ProcessExit>((r) => (resolveExit = r));
      this.pending.set(id, { spec, exited, resolveStart, rejectStart, resolveExit, pid: null });
      this.ensure().send({ t: 'launch', id, file: file ?? '/bin/false', args, cwd: spec.cwd, env: spec.env, mkdirs: spec.mkdirs, cgroupProcs: spec.cgroupProcs ?? [] });
    });
  }

  watchdog(ms: number): void {
    this.child?.send({ t: 'watchdog', ms });
  }

  /** Stops the launcher; any job still running is killed with it. */
  close(): void {
    this.closing = true;
    this.child?.disconnect();
    this.child = null;
  }
}
