/**
 * The Slurm place: each attempt is one `sbatch` job, named placeAttemptName(runId, attempt), submitted from the
 * worker's machine (a login node) to a cluster that shares a directory with it (`--shared-dir`).
 *
 * Per attempt the place keeps a directory `<shared>/attempts/<name>/` (mode 0700) holding:
 *   env      the job's variables as shell assignments (mode 0600); the batch script reads it and removes it
 *            before the command starts, so secrets never reach a command line, Slurm's job record or a file
 *            anyone else can read;
 *   job.sh   the batch script (no secrets: paths and the command);
 *   stdout, stderr   what the command writes, tailed by the place while the job runs (the log streams);
 *   slurm.out        what Slurm itself says about the job (out of memory, time limit), shown as notes;
 *   started  "<job id> <node> <pid>" when the script begins; status: the command's exit status at its end;
 *   offsets  how far the place has streamed each log (a restarted worker adopting the job goes on from there).
 * The directory is removed once the attempt's end has been reported.
 *
 * State is followed with `squeue` (one call per poll for all attempts), then `sacct` once the controller has
 * forgotten the job, or the status file when accounting is off. Cancel and the time limit use `scancel` (TERM to
 * the whole job, then a kill after the grace). Slurm keeps time limits in whole minutes, so the place enforces
 * the exact limit itself and gives Slurm `--time` rounded up as a backstop.
 */
import { execFile } from 'node:child_process';
import { constants as osConstants, userInfo } from 'node:os';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { breathe } from '../../lib/breathe.js';
import { parsePlaceAttemptName, type Place, type PlaceAttempt, type PlaceAttemptSpec, type PlaceEnd, type PlaceEndReason, type PlaceOffer, type PlaceOutput, type PlaceStarted } from './place.js';
import type { RunCommand } from '../../model/job.js';
import { workerBaseEnv } from '../../model/run-env.js';

export interface SlurmPlaceOptions {
  /** A directory the compute nodes see at the same path. */
  readonly sharedDir: string;
  readonly partition?: string | null;
  readonly account?: string | null;
  readonly qos?: string | null;
  /** More sbatch arguments, each one argument (`--constraint=fast`, `--reservation=r1`). */
  readonly slurmOptions?: readonly string[];
  /** The environment of the Slurm commands and the jobs' base environment (default: this process's, without KAIROS_*). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** How often squeue is asked (default 1000 ms). */
  readonly pollMs?: number;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const SIGNALS = new Map<number, string>(Object.entries(osConstants.signals).map(([name, n]) => [n, name]));
const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'SPECIAL_EXIT', 'REVOKED']);
const ALIVE = ['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SIGNALING', 'STAGE_OUT', 'STOPPED', 'RESV_DEL_HOLD'];

/** Single-quoted for sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Slurm's time limits ("infinite", "30", "1:00:00", "2-00:00:00", "UNLIMITED") in ms; null = none. */
export function parseSlurmTime(t: string): number | null {
  const s = t.trim();
  if (!s || /^(infinite|unlimited|none|n\/a)$/i.test(s)) return null;
  let days = 0;
  let rest = s;
  const dash = s.indexOf('-');
  if (dash >= 0) {
    days = Number(s.slice(0, dash));
    rest = s.slice(dash + 1);
  }
  const parts = rest.split(':').map(Number);
  if (parts.some((p) => !Number.isFinite(p))) return null;
  let h = 0;
  let m = 0;
  let sec = 0;
  if (dash >= 0) [h = 0, m = 0, sec = 0] = parts;
  else if (parts.length === 1) m = parts[0] ?? 0;
  else if (parts.length === 2) [m = 0, sec = 0] = parts;
  else [h = 0, m = 0, sec = 0] = parts;
  return (((days * 24 + h) * 60 + m) * 60 + sec) * 1000;
}

/** The sbatch arguments for an attempt's resources and limits (without the script, output and name). */
export function resourceArgs(spec: Pick<PlaceAttemptSpec, 'resources' | 'timeLimitMs' | 'graceMs'>): string[] {
  const args: string[] = ['--nodes=1', '--ntasks=1'];
  const r = spec.resources;
  args.push(`--cpus-per-task=${Math.max(1, Math.ceil(r.cpu ?? 1))}`);
  if (r.memoryBytes !== undefined && r.memoryBytes > 0) args.push(`--mem=${Math.max(1, Math.ceil(r.memoryBytes / (1024 * 1024)))}M`);
  if (r.gpu !== undefined && r.gpu > 0) args.push(`--gres=gpu:${Math.ceil(r.gpu)}`);
  // Whole minutes, rounded up, and the grace on top: the place's own timer ends it at the exact limit first.
  if (spec.timeLimitMs !== null) args.push(`--time=${Math.max(1, Math.ceil((spec.timeLimitMs + spec.graceMs) / 60_000))}`);
  return args;
}

function commandLine(c: RunCommand): string {
  if (c.kind === 'shell') return `/bin/sh -c ${shQuote(c.script)}`;
  return c.argv.map(shQuote).join(' ');
}

/** The batch script: reads and removes the env file, runs the command with its output in the attempt's files. */
export function batchScript(dir: string, cwd: string, command: RunCommand): string {
  const d = shQuote(dir);
  return [
    '#!/bin/sh',
    `d=${d}`,
    // The job's variables: read, then the file is gone before the command starts.
    'if [ -f "$d/env" ]; then set -a; . "$d/env"; set +a; rm -f "$d/env"; fi',
    `echo "$SLURM_JOB_ID \${SLURMD_NODENAME:-$(hostname)} $$" > "$d/started.tmp" && mv "$d/started.tmp" "$d/started"`,
    `if ! cd ${shQuote(cwd)}; then echo "kairos: cannot enter the working directory ${cwd.replace(/[^\w./ -]/g, '?')}" >> "$d/stderr"; echo 126 > "$d/status"; exit 126; fi`,
    `${commandLine(command)} < /dev/null >> "$d/stdout" 2>> "$d/stderr"`,
    'code=$?',
    'echo $code > "$d/status.tmp" && mv "$d/status.tmp" "$d/status"',
    'exit $code',
    '',
  ].join('\n');
}

/** Maps a final Slurm state (and exit status) onto the place vocabulary. */
export function reasonOf(state: string, exitCode: number | null, signal: string | null): PlaceEndReason {
  const s = state.split(/\s/)[0]?.toUpperCase() ?? '';
  switch (s) {
    case 'COMPLETED':
      return 'exit_code';
    case 'FAILED':
      return signal !== null ? 'signal' : 'exit_code';
    case 'CANCELLED':
      return 'cancelled';
    case 'TIMEOUT':
    case 'DEADLINE':
      return 'time_limit';
    case 'OUT_OF_MEMORY':
      return 'oom';
    case 'NODE_FAIL':
    case 'BOOT_FAIL':
      return 'node_failure';
    case 'PREEMPTED':
      return 'preempted';
    default:
      return exitCode !== null && s === '' ? (signal !== null ? 'signal' : 'exit_code') : 'lost';
  }
}

/** "a:b" (exit status : signal) as Slurm prints ExitCode. */
function parseExitCode(s: string | undefined): { code: number | null; sig: number | null } {
  const m = /^(\d+):(\d+)$/.exec((s ?? '').trim());
  if (!m) return { code: null, sig: null };
  return { code: Number(m[1]), sig: Number(m[2]) };
}

interface Tracked {
  readonly name: string;
  readonly dir: string;
  jobId: string | null;
  state: string;
  node: string;
  reason: string;
  seenAt: number;
}

class Follower implements PlaceAttempt {
  readonly started: Promise<PlaceStarted>;
  readonly ended: Promise<PlaceEnd>;
  private resolveStarted!: (s: PlaceStarted) => void;
  private rejectStarted!: (e: Error) => void;
  private resolveEnded!: (e: PlaceEnd) => void;
  private isStarted = false;
  private done = false;
  cancelWhy: 'cancelled' | 'time_limit' | 'lost' | null = null;
  private limitTimer: NodeJS.Timeout | null = null;
  private readonly offsets = { stdout: 0, stderr: 0 };
  private readonly partial = { stdout: '', stderr: '' };
  private tailing = false;

  constructor(
    readonly place: SlurmPlace,
    readonly t: Tracked,
    readonly output: PlaceOutput,
    readonly timeLimitMs: number | null,
    readonly graceMs: number,
  ) {
    this.name = t.name;
    this.started = new Promise<PlaceStarted>((res, rej) => {
      this.resolveStarted = res;
      this.rejectStarted = rej;
    });
    this.started.catch(() => {});
    this.ended = new Promise<PlaceEnd>((res) => (this.resolveEnded = res));
    try {
      const saved = JSON.parse(readFileSync(join(t.dir, 'offsets'), 'utf8')) as { stdout?: number; stderr?: number };
      this.offsets.stdout = Number(saved.stdout) || 0;
      this.offsets.stderr = Number(saved.stderr) || 0;
    } catch {
      // a new attempt
    }
  }

  readonly name: string;

  get finished(): boolean {
    return this.done;
  }

  /** Called with each poll's view of the job (undefined: not in squeue any more). */
  async update(row: { state: string; node: string; reason: string } | undefined): Promise<void> {
    if (this.done) return;
    if (row) {
      this.t.state = row.state;
      this.t.node = row.node || this.t.node;
      this.t.reason = row.reason;
      this.t.seenAt = Date.now();
    }
    const running = row !== undefined && ['RUNNING', 'COMPLETING', 'SIGNALING', 'STAGE_OUT'].includes(row.state);
    if ((running || existsSync(join(this.t.dir, 'started'))) && !this.isStarted) this.markStarted();
    await this.tail(false);
    if (row && !TERMINAL.has(row.state)) return;
    await this.finish(row?.state ?? null);
  }

  markStarted(): void {
    if (this.isStarted) return;
    this.isStarted = true;
    let startedAt = Date.now();
    try {
      startedAt = Math.min(startedAt, Math.floor(statSync(join(this.t.dir, 'started')).mtimeMs));
    } catch {
      // not written yet (the script begins a moment after Slurm says RUNNING)
    }
    this.resolveStarted({ startedAt, where: `slurm job ${this.t.jobId ?? '?'}${this.t.node ? ` on ${this.t.node}` : ''}` });
    if (this.timeLimitMs !== null) {
      const left = Math.max(0, this.timeLimitMs - (Date.now() - startedAt));
      this.limitTimer = setTimeout(() => void this.cancel('time_limit'), left);
      this.limitTimer.unref?.();
    }
  }

  /** Reads what the job wrote since the last call; `last`: the job is over, flush any unfinished line. */
  async tail(last: boolean): Promise<void> {
    if (this.tailing) return;
    this.tailing = true;
    try {
      let moved = false;
      for (const stream of ['stdout', 'stderr'] as const) {
        const file = join(this.t.dir, stream);
        let fd: number;
        try {
          fd = openSync(file, 'r');
        } catch {
          continue;
        }
        try {
          const buf = Buffer.alloc(256 * 1024);
          for (;;) {
            const n = readSync(fd, buf, 0, buf.length, this.offsets[stream]);
            if (n <= 0) break;
            this.offsets[stream] += n;
            moved = true;
            const text = this.partial[stream] + buf.subarray(0, n).toString('utf8');
            const lines = text.split('\n');
            this.partial[stream] = lines.pop() ?? '';
            if (this.partial[stream].length > 64 * 1024) {
              lines.push(this.partial[stream]);
              this.partial[stream] = '';
              this.output.onLines(stream, lines, true);
            } else if (lines.length > 0) this.output.onLines(stream, lines);
            if (this.output.pace) await this.output.pace();
            await breathe();
          }
        } finally {
          closeSync(fd);
        }
        if (last && this.partial[stream]) {
          this.output.onLines(stream, [this.partial[stream]]);
          this.partial[stream] = '';
        }
      }
      if (moved) {
        try {
          writeFileSync(join(this.t.dir, 'offsets'), JSON.stringify(this.offsets));
        } catch {
          // the directory is gone (ended elsewhere)
        }
      }
    } finally {
      this.tailing = false;
    }
  }

  private async finish(state: string | null): Promise<void> {
    if (this.done) return;
    // The final word: scontrol while the controller remembers the job, else sacct, else the status file.
    let finalState = state;
    let exit: { code: number | null; sig: number | null } = { code: null, sig: null };
    let node = this.t.node;
    if (this.t.jobId) {
      const info = await this.place.jobInfo(this.t.jobId);
      if (info) {
        finalState = info.state ?? finalState;
        exit = info.exit;
        node = info.node || node;
      }
    }
    // Still running as far as accounting knows (a node that failed is only noticed after SlurmdTimeout): wait.
    if (finalState !== null && !TERMINAL.has(finalState) && state === null) {
      if (Date.now() - this.t.seenAt < 30_000 || ALIVE.includes(finalState)) return;
    }
    if (this.done) return;
    this.done = true;
    if (this.limitTimer) clearTimeout(this.limitTimer);
    await this.tail(true);
    let status: number | null = null;
    try {
      status = Number(readFileSync(join(this.t.dir, 'status'), 'utf8').trim());
      if (!Number.isInteger(status)) status = null;
    } catch {
      // the script did not get to its end
    }
    try {
      const said = readFileSync(join(this.t.dir, 'slurm.out'), 'utf8')
        .split('\n')
        .filter((l) => l.trim());
      for (const l of said.slice(-20)) this.output.note?.(`slurm: ${l}`);
    } catch {
      // nothing said
    }
    let exitCode = status ?? (exit.sig ? 128 + exit.sig : exit.code);
    let signal: string | null = null;
    if (status !== null && status > 128 && status < 128 + 65) signal = SIGNALS.get(status - 128) ?? null;
    else if (status === null && exit.sig) signal = SIGNALS.get(exit.sig) ?? null;
    let reason: PlaceEndReason;
    if (finalState === null) {
      // Forgotten by the controller, no accounting: the status file is all there is.
      reason = status !== null ? (signal !== null ? 'signal' : 'exit_code') : 'lost';
    } else reason = reasonOf(finalState, exitCode, signal);
    if (this.cancelWhy !== null && reason !== 'oom' && reason !== 'node_failure') reason = this.cancelWhy;
    if (reason === 'time_limit' || reason === 'cancelled' || reason === 'oom') {
      if (exitCode === null || exitCode === 0) exitCode = reason === 'oom' ? 137 : null;
    }
    const job = `slurm job ${this.t.jobId ?? '?'}`;
    const detail =
      reason === 'oom' ? `${job} OUT_OF_MEMORY on ${node}` :
      reason === 'node_failure' ? `${job} NODE_FAIL on ${node}` :
      reason === 'time_limit' ? `${job} time limit` :
      reason === 'preempted' ? `${job} PREEMPTED on ${node}` :
      reason === 'lost' ? `${job} ${finalState ?? 'gone'} with no status` :
      reason === 'cancelled' ? `${job} cancelled` :
      `${job} ${finalState ?? 'ended'} on ${node}`;
    if (!this.isStarted) {
      if (existsSync(join(this.t.dir, 'started')) || status !== null) this.markStarted();
      else this.rejectStarted(new Error(`${job} never started (${finalState ?? 'gone'}${this.t.reason && this.t.reason !== 'None' ? `: ${this.t.reason}` : ''})`));
    }
    this.place.forget(this);
    rmSync(this.t.dir, { recursive: true, force: true });
    this.resolveEnded({ reason, exitCode: reason === 'lost' || reason === 'node_failure' ? exitCode ?? null : exitCode, signal, detail });
  }

  async cancel(why: 'cancelled' | 'time_limit' | 'lost', graceMs?: number): Promise<void> {
    if (this.done || this.cancelWhy !== null) return;
    this.cancelWhy = why;
    const id = this.t.jobId;
    if (!id) return;
    const grace = graceMs ?? this.graceMs;
    if (this.t.state === 'PENDING' || grace <= 0) {
      await this.place.slurm('scancel', [id]);
    } else {
      // TERM to the batch script and everything it started; Slurm's own cancel (then KILL) after the grace.
      await this.place.slurm('scancel', ['--full', '--signal=TERM', id]);
      const timer = setTimeout(() => {
        if (!this.done) void this.place.slurm('scancel', [id]);
      }, grace);
      timer.unref?.();
      void this.ended.then(() => clearTimeout(timer));
    }
    this.place.pokeSoon();
  }
}

export class SlurmPlace implements Place {
  readonly kind = 'slurm';
  private readonly env: Record<string, string>;
  private readonly followers = new Map<string, Follower>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private closed = false;
  private readonly user = userInfo().username;

  constructor(readonly options: SlurmPlaceOptions) {
    // The jobs' base environment (sbatch --export=ALL): the worker's own without Kairos' variables and credentials.
    this.env = workerBaseEnv(options.env ?? process.env);
    mkdirSync(join(options.sharedDir, 'attempts'), { recursive: true, mode: 0o700 });
  }

  /** Runs a Slurm command; never rejects. */
  slurm(cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<Run> {
    return new Promise((resolve) => {
      execFile(cmd, args, { env: this.env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
        resolve({ code, stdout: String(stdout ?? ''), stderr: String(stderr ?? '') || (err && code === 127 ? err.message : '') });
      });
    });
  }

  private attemptDir(name: string): string {
    if (!parsePlaceAttemptName(name)) throw new Error(`not an attempt name: ${name}`);
    return join(this.options.sharedDir, 'attempts', name);
  }

  private partitionArgs(): string[] {
    const a: string[] = [];
    if (this.options.partition) a.push(`--partition=${this.options.partition}`);
    if (this.options.account) a.push(`--account=${this.options.account}`);
    if (this.options.qos) a.push(`--qos=${this.options.qos}`);
    return a;
  }

  async offer(): Promise<PlaceOffer> {
    const args = ['-h', '-N', '-o', '%N|%c|%m|%G|%l|%t'];
    if (this.options.partition) args.push('-p', this.options.partition);
    const r = await this.slurm('sinfo', args);
    if (r.code !== 0) throw new Error(`sinfo failed: ${r.stderr.trim() || r.stdout.trim()}`);
    let cpu = 0;
    let mem = 0;
    let gpu = 0;
    let maxTimeMs: number | null = 0;
    let slots = 0;
    const nodes = new Set<string>();
    for (const line of r.stdout.split('\n')) {
      const [node, c, m, g, l, state] = line.trim().split('|');
      if (!node || nodes.has(node)) continue;
      // A node that is down now may come back: it still counts for what one attempt can get, not for slots.
      if (/^inval/.test(state ?? '')) continue;
      nodes.add(node);
      const cpus = Number(c) || 0;
      cpu = Math.max(cpu, cpus);
      if (!/^(down|drain|drng|fail|maint|unk)/.test(state ?? '')) slots += Math.max(1, cpus);
      mem = Math.max(mem, (Number(m) || 0) * 1024 * 1024);
      const gm = /gpu(?::[^:(,]+)?:(\d+)/.exec(g ?? '');
      gpu = Math.max(gpu, gm ? Number(gm[1]) : 0);
      const t = parseSlurmTime(l ?? '');
      maxTimeMs = maxTimeMs === null || t === null ? null : Math.max(maxTimeMs, t);
    }
    if (nodes.size === 0) return { cpu: 0, memoryBytes: 0, gpu: 0, maxTimeMs: null, slots: 0, nodes: 0 };
    return { cpu, memoryBytes: mem, gpu, maxTimeMs, slots, nodes: nodes.size };
  }

  private offerCache: { at: number; offer: Promise<PlaceOffer> } | null = null;

  private cachedOffer(): Promise<PlaceOffer> {
    if (!this.offerCache || Date.now() - this.offerCache.at > 10_000) {
      const offer = this.offer();
      offer.catch(() => (this.offerCache = null));
      this.offerCache = { at: Date.now(), offer };
    }
    return this.offerCache.offer;
  }

  async start(spec: PlaceAttemptSpec): Promise<PlaceAttempt> {
    if (this.closed) throw new Error('the slurm place is closed');
    const dir = this.attemptDir(spec.name);
    // A request no node of the partition can ever satisfy is refused here, with what there is: some clusters
    // (EnforcePartLimits=NO) would queue it forever.
    const offer = await this.cachedOffer();
    const r0 = spec.resources;
    const short: string[] = [];
    if (offer.nodes === 0) short.push('no usable node');
    if ((r0.cpu ?? 1) > offer.cpu) short.push(`cpu ${r0.cpu} (largest: ${offer.cpu})`);
    if ((r0.memoryBytes ?? 0) > offer.memoryBytes) short.push(`memory ${mib(r0.memoryBytes ?? 0)} (largest: ${mib(offer.memoryBytes)})`);
    if ((r0.gpu ?? 0) > offer.gpu) short.push(`gpu ${r0.gpu} (largest: ${offer.gpu})`);
    if (spec.timeLimitMs !== null && offer.maxTimeMs !== null && spec.timeLimitMs > offer.maxTimeMs) short.push(`time ${Math.ceil(spec.timeLimitMs / 1000)}s (longest: ${Math.floor(offer.maxTimeMs / 1000)}s)`);
    if (short.length > 0) throw new Error(`Slurm partition ${this.options.partition ?? '(default)'} cannot run this attempt: no node offers ${short.join(', ')}`);
    // An earlier attempt of the same run must be over before this one starts (never two live attempts).
    const parsed = parsePlaceAttemptName(spec.name);
    if (parsed && parsed.attempt > 1) {
      const earlier = Array.from({ length: parsed.attempt - 1 }, (_, i) => `kairos-${parsed.runId}-${i + 1}`);
      await this.endNames(earlier);
    }
    await this.endNames([spec.name]);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const p of spec.paths.writable) mkdirSync(p, { recursive: true });
    const lines: string[] = [];
    for (const [k, v] of Object.entries(spec.env)) {
      if (VALID_NAME.test(k)) lines.push(`${k}=${shQuote(v)}`);
      else spec.note?.(`variable ${JSON.stringify(k.slice(0, 40))} is not a shell name: not passed to the Slurm job`);
    }
    writeFileSync(join(dir, 'env'), `${lines.join('\n')}\n`, { mode: 0o600 });
    const script = join(dir, 'job.sh');
    writeFileSync(script, batchScript(dir, spec.cwd, spec.command), { mode: 0o700 });
    const args = [
      '--parsable', `--job-name=${spec.name}`, '--no-requeue', `--output=${join(dir, 'slurm.out')}`, `--error=${join(dir, 'slurm.out')}`, '--open-mode=append',
      `--chdir=${dir}`, '--export=ALL',
      ...this.partitionArgs(), ...resourceArgs(spec), ...(this.options.slurmOptions ?? []), script,
    ];
    const r = await this.slurm('sbatch', args);
    if (r.code !== 0) {
      rmSync(dir, { recursive: true, force: true });
      const said = (r.stderr.trim() || r.stdout.trim()).replace(/^sbatch: error: /gm, '');
      throw new Error(`Slurm refused the job (${describe(spec)}): ${said || `sbatch exited with ${r.code}`}`);
    }
    const jobId = r.stdout.trim().split(';')[0] ?? '';
    writeFileSync(join(dir, 'job'), `${jobId}\n`);
    writeFileSync(join(dir, 'limits'), JSON.stringify({ timeLimitMs: spec.timeLimitMs, graceMs: spec.graceMs }));
    const t: Tracked = { name: spec.name, dir, jobId, state: 'PENDING', node: '', reason: '', seenAt: Date.now() };
    const f = new Follower(this, t, spec, spec.timeLimitMs, spec.graceMs);
    this.followers.set(spec.name, f);
    this.ensurePolling();
    return f;
  }

  /** Jobs of this user with these names that Slurm has not finished. */
  private async jobsNamed(names: readonly string[]): Promise<{ id: string; name: string; state: string; node: string }[]> {
    if (names.length === 0) return [];
    const r = await this.slurm('squeue', ['-h', '-u', this.user, `--name=${names.join(',')}`, '-t', ALIVE.join(','), '-o', '%i|%j|%T|%N']);
    if (r.code !== 0) return [];
    return r.stdout
      .split('\n')
      .map((l) => l.trim().split('|'))
      .filter((p) => p.length >= 3 && p[0])
      .map(([id = '', name = '', state = '', node = '']) => ({ id, name, state, node }));
  }

  private async endNames(names: readonly string[]): Promise<void> {
    const jobs = await this.jobsNamed(names);
    if (jobs.length === 0) return;
    for (const j of jobs) this.followers.get(j.name)?.cancel('lost', 0).catch(() => {});
    await this.slurm('scancel', jobs.map((j) => j.id));
    // Wait until Slurm says they are over (their processes killed), at most a few minutes.
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const left = await this.jobsNamed(names);
      if (left.length === 0) return;
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  async live(): Promise<string[]> {
    const r = await this.slurm('squeue', ['-h', '-u', this.user, '-t', ALIVE.join(','), '-o', '%j']);
    if (r.code !== 0) throw new Error(`squeue failed: ${r.stderr.trim()}`);
    const names = new Set<string>();
    for (const l of r.stdout.split('\n')) {
      const n = l.trim();
      // Only jobs this shared directory knows: other Kairos installations may share the cluster.
      if (parsePlaceAttemptName(n) && existsSync(join(this.options.sharedDir, 'attempts', n))) names.add(n);
    }
    return [...names].sort();
  }

  async adopt(name: string, output: PlaceOutput): Promise<PlaceAttempt | null> {
    if (!parsePlaceAttemptName(name)) return null;
    const existing = this.followers.get(name);
    if (existing) return existing;
    const dir = this.attemptDir(name);
    if (!existsSync(dir)) return null;
    const jobs = await this.jobsNamed([name]);
    let jobId: string | null = jobs[0]?.id ?? null;
    if (!jobId) {
      try {
        jobId = readFileSync(join(dir, 'job'), 'utf8').trim() || null;
      } catch {
        return null;
      }
    }
    let limit: number | null = null;
    let grace = 10_000;
    try {
      const info = JSON.parse(readFileSync(join(dir, 'limits'), 'utf8')) as { timeLimitMs?: number | null; graceMs?: number };
      limit = info.timeLimitMs ?? null;
      grace = info.graceMs ?? grace;
    } catch {
      // none recorded
    }
    const t: Tracked = { name, dir, jobId, state: jobs[0]?.state ?? 'UNKNOWN', node: jobs[0]?.node ?? '', reason: '', seenAt: Date.now() };
    const f = new Follower(this, t, output, limit, grace);
    this.followers.set(name, f);
    this.ensurePolling();
    this.pokeSoon();
    return f;
  }

  async end(name: string): Promise<void> {
    if (!parsePlaceAttemptName(name)) return;
    await this.endNames([name]);
  }

  async health(): Promise<{ ok: boolean; detail: string }> {
    const args = ['-h', '-o', '%P %a %D %t'];
    if (this.options.partition) args.push('-p', this.options.partition);
    const r = await this.slurm('sinfo', args, 20_000);
    if (r.code !== 0) return { ok: false, detail: `sinfo: ${r.stderr.trim() || r.code}` };
    if (!r.stdout.trim()) return { ok: false, detail: `no partition ${this.options.partition ?? ''}`.trim() };
    return { ok: true, detail: r.stdout.trim().replace(/\n/g, '; ') };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
    this.followers.clear();
  }

  forget(f: Follower): void {
    if (this.followers.get(f.name) === f) this.followers.delete(f.name);
  }

  /** The job's final word from scontrol (while remembered), else sacct. */
  async jobInfo(jobId: string): Promise<{ state: string | null; exit: { code: number | null; sig: number | null }; node: string } | null> {
    const s = await this.slurm('scontrol', ['show', 'job', '-o', jobId]);
    if (s.code === 0 && s.stdout.includes('JobState=')) {
      const field = (k: string): string => new RegExp(`(?:^|\\s)${k}=(\\S*)`).exec(s.stdout)?.[1] ?? '';
      const state = field('JobState');
      const node = field('NodeList');
      return { state: state || null, exit: parseExitCode(field('ExitCode')), node: node === '(null)' ? '' : node };
    }
    const a = await this.slurm('sacct', ['-n', '-P', '-X', '-j', jobId, '-o', 'State,ExitCode,NodeList']);
    if (a.code === 0) {
      const [state = '', exit = '', node = ''] = (a.stdout.trim().split('\n').at(-1) ?? '').split('|');
      if (state) return { state: state.split(' ')[0] ?? null, exit: parseExitCode(exit), node: node === 'None assigned' ? '' : node };
    }
    return null;
  }

  private ensurePolling(): void {
    if (this.timer || this.closed) return;
    this.schedule(200);
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.polling = this.poll().finally(() => {
        this.polling = null;
        if (this.followers.size > 0) this.schedule(this.options.pollMs ?? 1000);
      });
    }, ms);
  }

  pokeSoon(): void {
    if (!this.polling) this.schedule(100);
  }

  private async poll(): Promise<void> {
    const fs = [...this.followers.values()];
    if (fs.length === 0) return;
    const ids = fs.map((f) => f.t.jobId).filter((x): x is string => !!x);
    const r = await this.slurm('squeue', ['-h', '-u', this.user, '-t', 'all', '-o', '%i|%T|%N|%r']);
    if (r.code !== 0) {
      // The controller does not answer: keep tailing, decide nothing.
      for (const f of fs) await f.tail(false);
      return;
    }
    const rows = new Map<string, { state: string; node: string; reason: string }>();
    for (const l of r.stdout.split('\n')) {
      const [id = '', state = '', node = '', reason = ''] = l.trim().split('|');
      if (id && ids.includes(id)) rows.set(id, { state, node, reason });
    }
    await Promise.all(fs.map((f) => f.update(f.t.jobId ? rows.get(f.t.jobId) : undefined).catch(() => {})));
  }
}

function mib(bytes: number): string {
  return `${Math.ceil(bytes / (1024 * 1024))}Mi`;
}

function describe(spec: PlaceAttemptSpec): string {
  const r = spec.resources;
  const parts = [`cpu ${r.cpu ?? 1}`];
  if (r.memoryBytes) parts.push(`memory ${Math.ceil(r.memoryBytes / (1024 * 1024))}Mi`);
  if (r.gpu) parts.push(`gpu ${r.gpu}`);
  if (spec.timeLimitMs !== null) parts.push(`time ${Math.ceil(spec.timeLimitMs / 1000)}s`);
  return parts.join(', ');
}
