/** Test helpers: temporary projects, waiting for a state (never sleeping), and the CLI as a subprocess. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'kairos.js');

export function tempDir(prefix = 'kairos-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Writes a project: `files` maps relative paths to contents. */
export function writeProject(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
}

/**
 * The least a wait may take before it fails. A wait ends as soon as its state is there, so a long budget costs
 * nothing when things work; a short one fails a correct program on a busy machine (the suite must pass with
 * every core busy: tools/cpu-hog.mjs). A behaviour with a promised bound asserts that bound some other way.
 */
const MIN_WAIT_MS = 60_000;

/** Polls `probe` until it returns a truthy value or the deadline (at least MIN_WAIT_MS) passes. */
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = MIN_WAIT_MS, everyMs = 25): Promise<NonNullable<T>> {
  timeoutMs = Math.max(timeoutMs, MIN_WAIT_MS);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `kairos ARGS` as a subprocess and collects its output. */
export function cli(args: readonly string[], opts: { env?: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kairos ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 180_000}ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 180_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Starts a long-lived `kairos` subprocess (e.g. `up`); the caller must stop it. */
export function spawnCli(args: readonly string[], opts: { env?: Record<string, string>; cwd?: string } = {}): { child: ChildProcess; output(): string } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  return { child, output: () => out };
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

/**
 * Whether `pid` is a running process. A zombie (state Z: it has exited, only its status waits to be
 * collected by its parent) is not: signals still "reach" it, so kill(pid, 0) alone would say alive.
 */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    // No /proc entry: gone (or no /proc here: ask the kernel).
    if (existsSync('/proc/self/stat')) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
}

/** A process's start time (clock ticks since boot), or null when it is gone: with its pid, its identity. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** A free loopback port, by binding port 0 and releasing it. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((r, j) => {
    const s = createServer();
    s.once('error', j);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => r(port));
    });
  });
}

/** The environment of a process, or null when it is gone or unreadable. */
function environOf(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return null;
  }
}

/** Host pids of the live processes of a run (those with its KAIROS_RUN_ID, and KAIROS_ATTEMPT when given). */
export function processesOfRun(runId: string, attempt?: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const env = environOf(Number(name));
    if (env?.includes(`KAIROS_RUN_ID=${runId}`) && (attempt === undefined || env.includes(`KAIROS_ATTEMPT=${attempt}`))) out.push(Number(name));
  }
  return out;
}

/**
 * The host pid of the process that a run's job knows as `pid`. A sandboxed job has its own PID namespace, so the
 * pids it prints (`$$`, `$!`) are not the host's; /proc/<pid>/status lists a process's pid in each namespace.
 * Null when no such process is alive.
 */
export function hostPid(runId: string, pid: number): number | null {
  for (const host of processesOfRun(runId)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${host}/status`, 'utf8');
    } catch {
      continue;
    }
    const ns = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [host];
    if (ns[ns.length - 1] === pid) return host;
  }
  return null;
}
