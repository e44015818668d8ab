/**
 * One attempt on this machine: prepare its directories and environment, start its process in the bundle,
 * ship its log lines in order within about a second, enforce its timeout, obey a cancel, and report how it
 * ended with its metrics and artifacts.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { paramEnvValue } from '../manifest/index.js';
import { localDate } from '../model/cron/index.js';
import { coerceError, KairosError } from '../model/errors.js';
import type { Artifact, Assignment, AttemptResult, ControlLink, LeaseRef, LogLine, LogStream, Metric, StartedInfo, WorkerOutcome } from './protocol.js';

const STARTED_REPORT_DELAY_MS = 50;
import type { Launcher, LocalProcess } from './places/local.js';
import { Masker, MaskStream } from './mask.js';
import { cgroupPrefix, createAttemptCgroup, describeLimits, showBytes, type AttemptCgroup } from './places/cgroups.js';
import { EnvError, type EnvCache, type PreparedEnv } from './envs/index.js';

export interface AttemptSettings {
  readonly dataDir: string;
  readonly bundlePath: string;
  readonly workerId: string;
  readonly launcher: Launcher;
  /** The worker's log batcher, shared by its attempts. */
  readonly logs: LogBatcher;
  /** Resolves when the bundle is in place (remote workers download it first). */
  readonly ready?: Promise<void>;
  /** Sends the attempt's result (the worker adds its claim for the next run to the same report). */
  readonly report: (lease: LeaseRef, result: AttemptResult) => Promise<void>;
  readonly flushMs: number;
  /** The control plane refused a report of this attempt: its lease had expired (another attempt may own the run). */
  readonly onRefused?: (lease: LeaseRef, what: string) => void;
  readonly maxLogLines: number;
  readonly maxLogBytes: number;
  /** This machine's environment cache; jobs that name an environment need it. */
  readonly envs?: EnvCache;
}

const RESERVED_ENV = ['KAIROS_TOKEN', 'KAIROS_SECRET_KEY'];

/** Where an attempt's outputs live: one directory for artifacts, one file for metrics, under <data>/attempts. */
export function attemptPaths(dataDir: string, runId: string, attempt: number): { artifacts: string; output: string } {
  const base = join(dataDir, 'attempts', `${runId}.${attempt}`);
  return { artifacts: base, output: `${base}.output.jsonl` };
}

/**
 * The environment every job starts from: the worker's own, minus Kairos' credentials and variables, plus
 * defaults that suit shared, immutable bundles (no __pycache__ written into them; unbuffered Python output,
 * so lines reach the log as they are printed). A job's `env` and the KAIROS_* variables go on top.
 */
export function workerBaseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = { PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || RESERVED_ENV.includes(k) || k.startsWith('KAIROS_')) continue;
    out[k] = v;
  }
  return out;
}

/**
 * Coalesces the log batches of all attempts on this worker into one report (one transaction) at a time:
 * with a hundred chatty jobs, a hundred small transactions a flush would fall behind; one does not.
 */
export class LogBatcher {
  private queue: { lease: LeaseRef; lines: readonly LogLine[]; resolve: (stale: boolean) => void; reject: (err: unknown) => void }[] = [];
  private draining = false;

  constructor(private readonly link: ControlLink) {}

  /** Resolves true when the lease was stale (the lines were refused). */
  submit(lease: LeaseRef, lines: readonly LogLine[]): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ lease, lines, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const items = this.queue.splice(0);
        try {
          const { stale } = await this.link.appendLogsMany(items.map(({ lease, lines }) => ({ lease, lines })));
          const staleKeys = new Set(stale.map((l) => `${l.runId}/${l.attempt}/${l.token}`));
          for (const i of items) i.resolve(staleKeys.has(`${i.lease.runId}/${i.lease.attempt}/${i.lease.token}`));
        } catch (err) {
          for (const i of items) i.reject(err);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}

/**
 * A batch is shipped when this many lines wait (or after flushMs): a fast producer's lines go to the store in
 * batches of this size, each one chunk row, so fewer and larger writes.
 */
const FLUSH_LINES = 4000;

/** Batches an attempt's log lines and ships them in order, one batch in flight at a time. */
class LogShipper {
  private pending: LogLine[] = [];
  private seq: number;
  private bytes = 0;
  private count = 0;
  private truncated = false;
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> = Promise.resolve();
  stale = false;
  /** Masks the values of the attempt's secrets in every line before it is kept (null: the job has none). */
  readonly masker: Masker | null;
  private readonly masks = new Map<LogStream, MaskStream>();

  constructor(
    private readonly a: Assignment,
    private readonly s: AttemptSettings,
    private readonly onStale: () => void,
  ) {
    this.seq = a.logSeqStart;
    const values = Object.values(a.secrets ?? {});
    this.masker = values.length > 0 ? new Masker(values) : null;
  }

  /** A line, or with `lineEnd` false the piece of one that goes on in the next call. */
  add(stream: LogStream, line: string, lineEnd = true): void {
    const masker = this.masker;
    if (!masker) return this.keep(stream, line);
    let m = this.masks.get(stream);
    if (!m) this.masks.set(stream, (m = new MaskStream(masker, (text) => this.keep(stream, text))));
    m.write(line, lineEnd);
  }

  /** Lets out what masking holds back (the end of the attempt's output). */
  release(): void {
    for (const m of this.masks.values()) m.release();
  }

  private keep(stream: LogStream, line: string): void {
    if (this.truncated) return;
    if (this.count >= this.s.maxLogLines || this.bytes + line.length > this.s.maxLogBytes) {
      this.truncated = true;
      this.push('system', `[kairos] log truncated: this run's log reached its cap (${this.s.maxLogLines} lines or ${this.s.maxLogBytes} bytes); later output was not kept`);
      return;
    }
    this.count++;
    this.bytes += line.length;
    this.push(stream, line);
  }

  private push(stream: LogStream, line: string): void {
    this.pending.push({ seq: ++this.seq, ts: Date.now(), stream, line });
    if (this.pending.length >= FLUSH_LINES) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.s.flushMs);
  }

  /** Holds a fast producer back while many lines wait to be stored (the spool keeps the job itself going). */
  pace(): Promise<void> {
    return this.pending.length < 20_000 ? Promise.resolve() : this.flush();
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return this.inflight;
    const batch = this.pending;
    this.pending = [];
    this.inflight = this.inflight.then(() => this.send(batch));
    return this.inflight;
  }

  private async send(batch: LogLine[]): Promise<void> {
    if (this.stale) return;
    for (let tries = 0; ; tries++) {
      try {
        if (await this.s.logs.submit(this.a.lease, batch)) {
          this.stale = true;
          this.onStale();
        }
        return;
      } catch (err) {
        if (err instanceof KairosError && err.code === 'stale_lease') {
          this.stale = true;
          this.onStale();
          return;
        }
        if (tries >= 20) throw err;
        await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** tries)));
      }
    }
  }
}

export class AttemptRunner {
  private proc: LocalProcess | null = null;
  private outcome: WorkerOutcome | null = null;
  private reason: string | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private startedTimer: NodeJS.Timeout | null = null;
  private startedInfo: StartedInfo | null = null;
  private startReported = false;
  private startReport: Promise<void> = Promise.resolve();
  private environment: PreparedEnv | null = null;
  private readonly logs: LogShipper;
  readonly done: Promise<void>;

  constructor(
    private readonly link: ControlLink,
    private readonly a: Assignment,
    private readonly s: AttemptSettings,
  ) {
    this.logs = new LogShipper(a, s, () => {
      s.onRefused?.(a.lease, 'its log lines');
      this.kill('lease lost: another attempt may own this run now');
    });
    this.done = this.run();
  }

  get lease() {
    return this.a.lease;
  }

  /** Stop the attempt: TERM the process group, KILL it after the job's grace period. */
  stop(outcome: 'cancelled' | 'timed_out', reason: string): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.reason = reason;
    const p = this.proc;
    if (!p) return;
    p.signalGroup('SIGTERM');
    this.killTimer = setTimeout(() => p.signalGroup('SIGKILL'), this.a.spec.graceMs);
  }

  private givenUp: string | null = null;

  /**
   * The lease could not be renewed (the control plane is unreachable): kill the job now, before the lease runs
   * out and another attempt may start; keep its log and, once the control plane answers again, report the
   * attempt lost (refused if its lease has expired meanwhile).
   */
  giveUp(why: string): void {
    if (this.givenUp !== null || this.logs.stale) return;
    this.givenUp = why;
    this.outcome = this.outcome ?? 'failed';
    this.reason = why;
    // The run's log says why its job ended here (it is shipped before the attempt is reported lost).
    this.logs.add('system', `[kairos] killed: ${why}`);
    this.proc?.signalGroup('SIGKILL');
  }

  /** Kill at once and report nothing: the lease is gone. */
  kill(why: string): void {
    this.logs.stale = true;
    this.outcome = this.outcome ?? 'failed';
    this.reason = why;
    this.proc?.signalGroup('SIGKILL');
  }

  /** The job's own variables; the launcher puts them over the worker's base environment. */
  private env(paths: { artifacts: string; output: string }): Record<string, string> {
    const a = this.a;
    const env: Record<string, string> = { ...a.spec.env, ...a.secrets };
    for (const [name, value] of Object.entries(a.run.params)) env[`KAIROS_PARAM_${name.toUpperCase()}`] = paramEnvValue(value);
    Object.assign(env, {
      KAIROS_RUN_ID: a.run.id,
      KAIROS_PROJECT: a.run.project,
      KAIROS_JOB: a.run.job,
      KAIROS_ATTEMPT: String(a.lease.attempt),
      KAIROS_SCHEDULED_FOR: new Date(a.run.scheduledFor ?? Date.now()).toISOString(),
      // The logical time's calendar date where the schedule lives: "the day this run is for".
      KAIROS_SCHEDULED_DATE: localDate(a.run.timezone, a.run.scheduledFor ?? Date.now()),
      KAIROS_TIMEZONE: a.run.timezone,
      KAIROS_OUTPUT: paths.output,
      KAIROS_ARTIFACTS: paths.artifacts,
      KAIROS_DEPLOYMENT: a.deploymentId,
    });
    return env;
  }

  private async run(): Promise<void> {
    const a = this.a;
    const paths = attemptPaths(this.s.dataDir, a.run.id, a.lease.attempt);
    let exitCode: number | null = null;
    let cgroup: AttemptCgroup | null = null;
    try {
      await this.s.ready;
      await this.prepareEnvironment();
      const limits = { memoryBytes: a.spec.resources.memoryBytes, cpu: a.spec.resources.cpu };
      cgroup = createAttemptCgroup(`${cgroupPrefix(this.s.workerId)}-${a.run.id}-${a.lease.attempt}`, limits);
      if (cgroup?.limited) this.logs.add('system', describeLimits(limits, cgroup.description));
      else if (!cgroup && (limits.memoryBytes !== null || limits.cpu !== null)) {
        const how = limits.memoryBytes !== null ? 'no usable cgroup here: memory as an address-space limit' : 'no usable cgroup here';
        this.logs.add('system', describeLimits(limits, how) + (limits.cpu !== null ? '; the cpu limit is not enforced' : ''));
      }
      const cwd = a.spec.workdir ? join(this.s.bundlePath, a.spec.workdir) : this.s.bundlePath;
      if (a.lease.attempt > 1) this.logs.add('system', `[kairos] attempt ${a.lease.attempt} of ${a.run.maxAttempts}`);
      const proc = await this.s.launcher.launch({
        command: a.spec.run,
        cwd,
        env: { ...this.env(paths), ...this.environment?.vars },
        mkdirs: [paths.artifacts],
        spool: `${paths.artifacts}.spool`,
        pace: () => this.logs.pace(),
        ...(cgroup ? { cgroupProcs: cgroup.procs } : limits.memoryBytes !== null ? { rlimitAs: limits.memoryBytes } : {}),
        onLines: (stream, lines, more) => {
          const last = lines.length - 1;
          for (let i = 0; i <= last; i++) this.logs.add(stream, lines[i] ?? '', more !== true || i !== last);
        },
      });
      this.proc = proc;
      this.startedInfo = { pid: proc.pid, procStart: proc.procStart, startedAt: proc.startedAt };
      // Reported a moment later, so a short job reports its start with its end in one transaction. The
      // launcher kills its jobs if this worker dies, so the pid is a second line of defence only.
      this.startedTimer = setTimeout(() => this.reportStarted(), STARTED_REPORT_DELAY_MS);
      if (this.outcome) {
        // Cancelled while it was starting.
        proc.signalGroup('SIGTERM');
        this.killTimer = setTimeout(() => proc.signalGroup('SIGKILL'), a.spec.graceMs);
      }
      let timeout: NodeJS.Timeout | null = null;
      if (a.spec.timeoutMs !== null) {
        const ms = a.spec.timeoutMs;
        timeout = setTimeout(() => this.stop('timed_out', `timed out after ${ms}ms`), ms);
      }
      const exit = await proc.exited;
      if (this.startedTimer) clearTimeout(this.startedTimer);
      if (timeout) clearTimeout(timeout);
      if (this.killTimer) clearTimeout(this.killTimer);
      exitCode = exit.exitCode;
      // Descendants that left the process group (setsid, nohup + setsid) are still in the cgroup.
      await cgroup?.killAll();
      if (!this.outcome && cgroup?.oomKilled()) {
        this.outcome = 'failed';
        this.reason = `killed: out of memory (limit ${showBytes(limits.memoryBytes ?? 0)})`;
        this.logs.add('system', `[kairos] ${this.reason}`);
      }
      if (!this.outcome) {
        this.outcome = exit.exitCode === 0 ? 'succeeded' : 'failed';
        this.reason = exit.exitCode === 0 ? null : exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.exitCode}`;
      }
    } catch (err) {
      this.outcome = 'failed';
      exitCode = 127;
      if (err instanceof EnvError) {
        // The installer's own words, line by line; the reason keeps the first line.
        const lines = err.message.split('\n');
        this.reason = lines[0] ?? err.message;
        for (const line of lines) this.logs.add('system', `[kairos] ${line}`);
      } else {
        this.reason = `could not start: ${coerceError(err).message}`;
        this.logs.add('system', `[kairos] ${this.reason}`);
      }
    }
    await cgroup?.remove();
    await this.environment?.release();
    const metrics = this.readMetrics(paths.output);
    const artifacts = listArtifacts(paths.artifacts);
    const masker = this.logs.masker;
    if (masker) {
      // What reaches the API besides the log: the reason and metric names.
      this.reason = this.reason === null ? null : masker.mask(this.reason);
      for (const [i, m] of metrics.entries()) metrics[i] = { ...m, name: masker.mask(m.name) };
      this.logs.release();
    }
    await this.logs.flush();
    if (this.logs.stale) return;
    if (this.givenUp !== null) {
      const why = this.givenUp;
      await reportWithRetry(() => this.link.abandon(a.lease, `lost: ${why}`), () => this.s.onRefused?.(a.lease, 'that the attempt was lost'));
      return;
    }
    await this.startReport;
    const started = this.startedInfo && !this.startReported ? this.startedInfo : undefined;
    const env = this.environment ? { environment: { hash: this.environment.hash, packages: this.environment.packages } } : {};
    const result: AttemptResult = { outcome: this.outcome ?? 'failed', exitCode, reason: this.reason, metrics, artifacts, ...(started ? { started } : {}), ...env };
    await reportWithRetry(() => this.s.report(a.lease, result), () => this.s.onRefused?.(a.lease, 'how the attempt ended'));
  }

  /** Reuses or builds the job's environment (once per content hash on this machine), logging progress. */
  private async prepareEnvironment(): Promise<void> {
    const env = this.a.environment;
    if (!env || env.kind === 'system') return;
    if (!this.s.envs) throw new EnvError(`environment ${env.name}: this worker has no environment cache`);
    const log = (line: string) => this.logs.add('system', line);
    this.environment = await this.s.envs.prepare(env, this.s.bundlePath, log, this.a.pinnedEnvironment ?? null);
    if (!this.environment.built) log(`[kairos] environment ${env.name} ${this.environment.hash.slice(0, 12)} (${this.environment.packages.length} packages)`);
  }

  private reportStarted(): void {
    const info = this.startedInfo;
    if (!info || this.startReported) return;
    this.startReported = true;
    this.startReport = this.link.started(this.a.lease, info).catch((err: unknown) => {
      if (err instanceof KairosError && err.code === 'stale_lease') this.kill('lease lost before start');
    });
  }

  /** Metrics are JSON lines `{"name": ..., "value": ..., "step": ...}`; a malformed line is reported, not fatal. */
  private readMetrics(file: string): Metric[] {
    // Most jobs report no metrics: look without throwing (an exception per run costs more than the look).
    if (!statSync(file, { throwIfNoEntry: false })) return [];
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return [];
    }
    const metrics: Metric[] = [];
    const now = Date.now();
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line) return;
      try {
        const v = JSON.parse(line) as { name?: unknown; value?: unknown; step?: unknown };
        if (typeof v.name !== 'string' || v.name === '' || typeof v.value !== 'number' || !Number.isFinite(v.value)) throw new Error('expected {"name": string, "value": number, "step"?: integer}');
        const step = typeof v.step === 'number' && Number.isInteger(v.step) ? v.step : null;
        metrics.push({ name: v.name.slice(0, 200), value: v.value, step, ts: now });
      } catch (err) {
        this.logs.add('system', `[kairos] KAIROS_OUTPUT line ${i + 1} ignored: ${coerceError(err).message}`);
      }
    });
    return metrics;
  }
}

function listArtifacts(dir: string): Artifact[] {
  const out: Artifact[] = [];
  function walk(d: string): void {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const abs = join(d, name);
      const st = lstatSync(abs);
      if (st.isDirectory()) walk(abs);
      else if (st.isFile()) {
        const data = readFileSync(abs);
        out.push({ path: relative(dir, abs), size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
      }
    }
  }
  walk(dir);
  return out;
}

/** Reports survive a busy moment of the control plane; a stale lease ends the attempt's story. */
export async function reportWithRetry(fn: () => Promise<void>, onStale?: () => void): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      await fn();
      return;
    } catch (err) {
      if (err instanceof KairosError && err.code === 'stale_lease') {
        onStale?.();
        return;
      }
      if (tries >= 30) throw err;
      await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** tries)));
    }
  }
}
