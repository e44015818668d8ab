/**
 * The launcher: a small helper process that starts a worker's jobs. Forking a process costs time in
 * proportion to the parent's memory, so the worker (with its database, HTTP server and caches) asks this
 * small process to do it. It also splits the jobs' output into lines and signals their process groups.
 *
 * Protocol (Node IPC, JSON): in  {t:'launch', id, file, args, cwd, env, mkdirs} | {t:'signal', id, signal}
 *                            out {t:'started', id, pid, procStart} | {t:'lines', id, stream, lines}
 *                                | {t:'exit', id, exitCode, signal} | {t:'error', id, message}
 * If the worker goes away, the launcher kills every job it started and exits: a job never outlives the
 * worker that holds its lease unnoticed.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { LineSplitter } from '../lines.js';
import { killCgroupsOf } from './cgroups.js';

type In =
  | { t: 'launch'; id: string; file: string; args: string[]; cwd: string; env: Record<string, string>; mkdirs: string[]; cgroupProcs: string[] }
  | { t: 'signal'; id: string; signal: NodeJS.Signals }
  | { t: 'watchdog'; ms: number };

const groups = new Map<string, number>();
/** The cgroups each running job joined: they hold what left its process group (setsid). */
const cgroupsOf = new Map<string, readonly string[]>();

function send(msg: unknown): void {
  // With a callback a send into a closed channel is not an 'error' event; the 'disconnect' handler exits.
  process.send?.(msg, undefined, undefined, () => {});
}

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** Batches lines per stream so a chatty job costs few messages; flushed on a short timer and at exit. */
class Outbox {
  private pending: { stream: 'stdout' | 'stderr'; lines: string[] } | null = null;
  private timer: NodeJS.Timeout | null = null;
  constructor(private readonly id: string) {}
  /** `more`: the line is a piece of an over-long line that goes on (sent at once, marked, for masking). */
  add(stream: 'stdout' | 'stderr', line: string, more = false): void {
    if (this.pending && this.pending.stream !== stream) this.flush();
    this.pending ??= { stream, lines: [] };
    this.pending.lines.push(line);
    if (more) this.flush(true);
    else if (this.pending.lines.length >= 500) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 20);
  }
  flush(more = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.pending) return;
    send({ t: 'lines', id: this.id, stream: this.pending.stream, lines: this.pending.lines, ...(more ? { more } : {}) });
    this.pending = null;
  }
}

function launch(m: Extract<In, { t: 'launch' }>): void {
  try {
    for (const d of m.mkdirs) mkdirSync(d, { recursive: true });
  } catch (err) {
    send({ t: 'error', id: m.id, message: (err as Error).message });
    return;
  }
  // The launcher's own environment is the worker's base environment for jobs; the message adds the job's.
  const child = spawn(m.file, m.args, { cwd: m.cwd, env: { ...process.env, ...m.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const box = new Outbox(m.id);
  const out = new LineSplitter((l, more) => box.add('stdout', l, more));
  const err = new LineSplitter((l, more) => box.add('stderr', l, more));
  child.stdout.on('data', (c: Buffer) => out.push(c)).on('error', () => {});
  child.stderr.on('data', (c: Buffer) => err.push(c)).on('error', () => {});
  let exit: { exitCode: number; signal: string | null } | null = null;
  let done = false;
  const finish = () => {
    if (!exit || done) return;
    done = true;
    out.end();
    err.end();
    box.flush();
    groups.delete(m.id);
    cgroupsOf.delete(m.id);
    send({ t: 'exit', id: m.id, ...exit });
  };
  child.on('error', (e) => {
    if (child.pid === undefined) {
      send({ t: 'error', id: m.id, message: `cannot start ${m.file}: ${e.message}` });
      done = true;
    }
  });
  child.on('spawn', () => {
    const pid = child.pid ?? -1;
    // Joins its cgroups just after it started (the native launcher does it before exec, without this gap).
    for (const procs of m.cgroupProcs) {
      try {
        writeFileSync(procs, String(pid));
      } catch {
        // the limit is then not enforced; the worker said which limits it asked for
      }
    }
    groups.set(m.id, pid);
    cgroupsOf.set(m.id, m.cgroupProcs);
    send({ t: 'started', id: m.id, pid, procStart: startTime(pid), at: Date.now() });
  });
  child.on('exit', (code, signal) => {
    exit = { exitCode: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0), signal };
    // Whatever the command left running in its group goes with it; then its pipes close.
    if (child.pid) killGroup(child.pid, 'SIGKILL');
    // A process that left the group (setsid) may still hold the pipes: don't wait for it forever.
    setTimeout(() => {
      child.stdout.destroy();
      child.stderr.destroy();
      finish();
    }, 2000).unref();
  });
  child.on('close', finish);
}

let watchdog: NodeJS.Timeout | null = null;

process.on('message', (m: In) => {
  if (m.t === 'watchdog') {
    if (watchdog) clearTimeout(watchdog);
    watchdog = m.ms > 0 ? setTimeout(() => {
      // The worker has not renewed in time: its leases may be gone, so its jobs go now.
      for (const pid of groups.values()) killGroup(pid, 'SIGKILL');
      void killCgroupsOf([...cgroupsOf.values()].flat(), false);
    }, m.ms) : null;
  } else if (m.t === 'launch') launch(m);
  else if (m.t === 'signal') {
    const pid = groups.get(m.id);
    if (pid) killGroup(pid, m.signal);
  }
});

// The worker is gone: its jobs' groups, then everything left in their cgroups, and the cgroups themselves.
process.on('disconnect', () => {
  for (const pid of groups.values()) killGroup(pid, 'SIGKILL');
  void killCgroupsOf([...cgroupsOf.values()].flat(), true).finally(() => process.exit(0));
});
