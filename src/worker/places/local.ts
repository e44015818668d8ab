/**
 * The local place: the attempt's command as a child process of the worker, in its own process group, so
 * that a timeout or cancel (TERM, grace, KILL) reaches every process it started, grandchildren included.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { RunCommand } from '../../manifest/types.js';
import { LineSplitter } from '../lines.js';

export interface LaunchSpec {
  readonly command: RunCommand;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly onLine: (stream: 'stdout' | 'stderr', line: string) => void;
}

export interface ProcessExit {
  /** The exit status, or 128 + signal number when a signal ended it (as shells report it). */
  readonly exitCode: number;
  readonly signal: NodeJS.Signals | null;
}

export interface LocalProcess {
  readonly pid: number;
  readonly procStart: string | null;
  readonly exited: Promise<ProcessExit>;
  /** Signals the whole process group. Safe to call after it is gone. */
  signalGroup(signal: NodeJS.Signals): void;
}

const SIGNAL_NUMBERS: Readonly<Partial<Record<NodeJS.Signals, number>>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

/** The start time of a process from /proc (clock ticks since boot), or null where /proc is unavailable. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
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

/** Kills a process group left by an earlier incarnation of this worker, if its leader is the same process. */
export function killStaleGroup(pid: number, procStart: string | null): boolean {
  if (procStart === null || processStartTime(pid) !== procStart) return false;
  return signalGroup(pid, 'SIGKILL');
}

export function launch(spec: LaunchSpec): LocalProcess {
  const [file, ...args] = spec.command.kind === 'shell' ? ['/bin/sh', '-c', spec.command.script] : spec.command.argv;
  const child = spawn(file ?? '/bin/false', args, {
    cwd: spec.cwd,
    env: spec.env,
    detached: true, // setsid(): the child leads a new process group
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = new LineSplitter((l) => spec.onLine('stdout', l));
  const err = new LineSplitter((l) => spec.onLine('stderr', l));
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const pid = child.pid ?? -1;
  const exited = new Promise<ProcessExit>((resolve) => {
    let exit: ProcessExit | null = null;
    let closed = false;
    const finish = () => {
      if (!exit || closed) return;
      closed = true;
      out.end();
      err.end();
      resolve(exit);
    };
    child.on('error', (e) => {
      // spawn failed (no such file, not executable): report it as the process's own error.
      spec.onLine('stderr', `kairos: cannot start ${file}: ${e.message}`);
      exit = { exitCode: 127, signal: null };
      finish();
    });
    child.on('exit', (code, signal) => {
      exit = { exitCode: code ?? 128 + (signal ? (SIGNAL_NUMBERS[signal] ?? 0) : 0), signal };
      // Whatever the command left running in its group goes with it; then its pipes close.
      if (pid > 0) signalGroup(pid, 'SIGKILL');
      // A process that left the group (setsid) may still hold the pipes: don't wait for it forever.
      setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, 2000).unref();
    });
    child.on('close', () => finish());
  });
  return {
    pid,
    procStart: pid > 0 ? processStartTime(pid) : null,
    exited,
    signalGroup: (signal) => {
      if (pid > 0) signalGroup(pid, signal);
    },
  };
}
