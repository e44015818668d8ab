/**
 * One attempt on this machine: prepare its directories and environment, start its process in the bundle,
 * ship its log lines in order within about a second, enforce its timeout, obey a cancel, and report how it
 * ended with its metrics and artifacts.
 */
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { ServiceRelayClient, freeLocalPort, type RelayEndpoint } from './service.js';
import { serviceBasePath } from '../model/service.js';
import { formatDuration } from '../model/duration.js';
import { join } from 'node:path';
import { InputCache } from './inputs.js';
import { KairosError, coerceError } from '../model/errors.js';
import { showSize } from '../artifacts/policy.js';
import { runEnv, workerBaseEnv } from '../model/run-env.js';
import type { ReasonCode } from '../model/reasons.js';
import type { CompiledNetwork as CompiledJobNetwork } from '../model/network.js';
import { retrying } from '../lib/retry.js';
import type { AbandonCode, Artifact, Assignment, AttemptResult, ControlLink, LeaseRef, StartedInfo, WorkerOutcome } from '../protocol/worker.js';
import { placeAttemptName, type Place, type PlaceAttempt, type PlaceEnd, type PlaceOutput } from './places/place.js';
import { EnvError, type EnvCache, type PreparedEnv } from './envs/index.js';
import { ImageCache, parseRegistry, type PreparedImage } from './envs/images.js';
import { podmanSettingsFromEnv } from './containers/podman.js';
import { isContainerEnvironment } from '../model/job.js';
import { unavailableReason } from '../model/unavailable.js';
import { LogShipper, REPORT_BACKOFF, isStaleLease, type LogBatcher } from './log-shipping.js';
import { attemptPaths, listArtifacts, readMetrics } from './outputs.js';
import { notebookCommand, notebookResultFile, readNotebookResult } from './notebook/command.js';
import { checkEndpoints, type NetworkMemory } from './preflight.js';
import { ENDPOINT_RESULT_LABELS, describeFailures, failedChecks, networkWaitDelay, type EndpointCheck } from '../model/network.js';

/** The network preflight found an endpoint failing (`on_failure: fail`, or `wait` past `max_wait`). */
class NetworkError extends Error {}
/** The attempt was cancelled while it waited for the network: nothing to start. */
class StoppedBeforeStart extends Error {}

export { attemptPaths } from './outputs.js';
export { LogBatcher } from './log-shipping.js';
export { workerBaseEnv } from '../model/run-env.js';

/** Where an attempt's inputs are placed (KAIROS_INPUTS), beside its artifacts folder. */
function inputsDir(paths: { artifacts: string }): string {
  return `${paths.artifacts}.inputs`;
}

/**
 * KAIROS_INPUTS of a job that has no inputs: one empty folder per worker (mode 0555, made by `Worker.start`),
 * shared by all such attempts instead of a folder made and removed per attempt (two syscalls on this process's
 * event loop for every run). The sandbox puts it back read-only, like every attempt's inputs.
 */
export function noInputsDir(dataDir: string): string {
  return join(dataDir, 'attempts', '.no-inputs');
}

/**
 * Makes a directory whose parent exists (the worker made `attempts/` at its start): one mkdir(2). A recursive
 * mkdir walks the path from the top in JavaScript, and it ran for every attempt.
 */
async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT') throw err;
    await mkdir(dir, { recursive: true });
  }
}

/** Removes a directory that is most often empty (a job without inputs) with one rmdir(2); else the whole tree. */
async function removeDir(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** The start is reported this much later, so a short job reports its start with its end in one transaction. */
const STARTED_REPORT_DELAY_MS = 50;

export interface AttemptSettings {
  readonly dataDir: string;
  readonly bundlePath: string;
  readonly workerId: string;
  /** Where the attempt runs (./places/place.ts). */
  readonly place: Place;
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
  /** The worker's memory of its network checks (sent to the server, which places runs by it). */
  readonly network?: NetworkMemory;
  /** Follow an attempt the place still runs from before the worker restarted (place.adopt) instead of starting it. */
  readonly adopt?: boolean;
  /** This machine's cache of input files; made on first use when absent. */
  readonly inputs?: InputCache;
  /** This machine's container images (podman); made on first use when absent (podman settings from KAIROS_PODMAN*). */
  readonly images?: ImageCache;
  /** Where a service job's tunnel goes (docs/services.md); null: services cannot be reached through the server. */
  readonly relay?: RelayEndpoint | null;
}

export class AttemptRunner {
  private attempt: PlaceAttempt | null = null;
  private outcome: WorkerOutcome | null = null;
  private reason: string | null = null;
  private reasonCode: ReasonCode | null = null;
  private startedTimer: NodeJS.Timeout | null = null;
  private startedInfo: StartedInfo | null = null;
  private startReported = false;
  private startReport: Promise<void> = Promise.resolve();
  private environment: PreparedEnv | null = null;
  private image: PreparedImage | null = null;
  private readonly logs: LogShipper;
  readonly done: Promise<void>;
  /** A service job's own secret (KAIROS_SERVICE_TOKEN): sent to it with each relayed request, masked in its log. */
  private readonly serviceSecret: string | null;
  private service: ServiceRelayClient | null = null;

  constructor(
    private readonly link: ControlLink,
    private readonly a: Assignment,
    private readonly s: AttemptSettings,
  ) {
    this.serviceSecret = a.spec.service ? randomBytes(24).toString('base64url') : null;
    const masked = this.serviceSecret ? { ...a, secrets: { ...(a.secrets ?? {}), KAIROS_SERVICE_TOKEN: this.serviceSecret } } : a;
    this.logs = new LogShipper(masked, s, () => {
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
    this.reasonCode = outcome === 'cancelled' ? 'cancelled' : 'time_limit';
    this.wakePreflight?.();
    void this.attempt?.cancel(outcome === 'cancelled' ? 'cancelled' : 'time_limit');
  }

  private givenUp: string | null = null;
  /** Some of the job's output was lost to a full disk under the worker's output spool. */
  private outputLost = false;
  private givenUpCode: AbandonCode = 'lost';

  /**
   * The lease could not be renewed (the control plane is unreachable): kill the job now, before the lease runs
   * out and another attempt may start; keep its log and, once the control plane answers again, report the
   * attempt lost (refused if its lease has expired meanwhile).
   */
  giveUp(why: string, code: AbandonCode = 'lost'): void {
    if (this.givenUp !== null || this.logs.stale) return;
    this.givenUp = why;
    this.outcome = this.outcome ?? 'failed';
    this.reason = why;
    this.reasonCode = code;
    this.givenUpCode = code;
    this.wakePreflight?.();
    // The run's log says why its job ended here (it is shipped before the attempt is reported lost).
    this.logs.add('system', `[kairos] killed: ${why}`);
    void this.attempt?.cancel('lost', 0);
  }

  /** Kill at once and report nothing: the lease is gone. */
  kill(why: string): void {
    this.logs.stale = true;
    this.outcome = this.outcome ?? 'failed';
    this.reason = why;
    this.wakePreflight?.();
    void this.attempt?.cancel('lost', 0);
  }

  /** The job's own variables; the launcher puts them over the worker's base environment. */
  private env(paths: { artifacts: string; output: string }): Record<string, string> {
    const a = this.a;
    const env = runEnv({
      runId: a.run.id,
      project: a.run.project,
      job: a.run.job,
      attempt: a.lease.attempt,
      scheduledFor: a.run.scheduledFor ?? Date.now(),
      timezone: a.run.timezone,
      deploymentId: a.deploymentId,
      params: a.run.params,
      env: a.spec.env,
      ...(a.secrets ? { secrets: a.secrets } : {}),
      outputFile: paths.output,
      artifactsDir: paths.artifacts,
    });
    env.KAIROS_INPUTS = this.inputsPath(paths);
    return env;
  }

  /** A service job's variables: its port, its secret and the path the server serves it under. */
  private async serviceEnv(): Promise<Record<string, string>> {
    const svc = this.a.spec.service;
    if (!svc || this.serviceSecret === null) return {};
    this.servicePort = svc.port === 0 ? await freeLocalPort() : svc.port;
    return { KAIROS_SERVICE_PORT: String(this.servicePort), KAIROS_SERVICE_TOKEN: this.serviceSecret, KAIROS_SERVICE_BASE_URL: serviceBasePath(this.a.run.project, this.a.run.job) };
  }

  private servicePort = 0;

  /** Once the service's process runs: the tunnel to the server, the health checks, `idle_stop`. */
  private startService(): void {
    const svc = this.a.spec.service;
    if (!svc || this.serviceSecret === null || this.outcome) return;
    if (this.s.adopt) {
      // Its port and secret were the worker's earlier incarnation's: the service cannot be relayed again.
      this.logs.add('system', '[kairos] service: the worker restarted; cancel and start the service again to reach it');
      return;
    }
    const base = serviceBasePath(this.a.run.project, this.a.run.job);
    if (!this.s.relay) {
      this.logs.add('system', `[kairos] service: this worker has no server to relay through; ${base} will not answer`);
      return;
    }
    this.service = new ServiceRelayClient({
      endpoint: this.s.relay,
      lease: this.a.lease,
      port: this.servicePort,
      health: svc.health,
      secret: this.serviceSecret,
      idleStopMs: svc.idleStopMs,
      basePath: base,
      ...(svc.dropCookies ? { dropCookies: svc.dropCookies } : {}),
      log: (line) => this.logs.add('system', line),
      onIdle: () => {
        const idle = `nobody used the service for ${formatDuration(svc.idleStopMs ?? 0)} (service.idle_stop)`;
        this.logs.add('system', `[kairos] stopping: ${idle}`);
        this.stop('cancelled', `idle: ${idle}`);
      },
    });
    this.service.start();
  }

  private get hasInputs(): boolean {
    return (this.a.spec.inputs ?? []).length > 0;
  }

  /** KAIROS_INPUTS: the attempt's own folder, or the worker's shared empty one for a job without inputs. */
  private inputsPath(paths: { artifacts: string }): string {
    return this.hasInputs ? inputsDir(paths) : noInputsDir(this.s.dataDir);
  }

  /** Fetches the attempt's inputs (resolved by the control plane, recorded with the attempt) into KAIROS_INPUTS. */
  private async prepareInputs(paths: { artifacts: string }): Promise<void> {
    if (!this.hasInputs) return;
    await makeDir(inputsDir(paths));
    const inputs = await this.link.resolveInputs(this.a.lease);
    const cache = this.s.inputs ?? new InputCache(this.s.dataDir, this.link);
    try {
      await cache.materialise(inputs, inputsDir(paths), (line) => this.logs.add('system', line));
    } catch (err) {
      throw new Error(`inputs: ${coerceError(err).message}`);
    }
  }

  private async run(): Promise<void> {
    const a = this.a;
    const paths = attemptPaths(this.s.dataDir, a.run.id, a.lease.attempt);
    let exitCode: number | null = null;
    try {
      await this.s.ready;
      if (!this.s.adopt) {
        await this.preflight();
        await this.prepareEnvironment();
        await this.prepareInputs(paths);
      }
      const cwd = a.spec.workdir ? join(this.s.bundlePath, a.spec.workdir) : this.s.bundlePath;
      if (a.lease.attempt > 1 && !this.s.adopt) this.logs.add('system', `[kairos] attempt ${a.lease.attempt} of ${a.run.maxAttempts}`);
      const r = a.spec.resources;
      const output = {
        pace: () => this.logs.pace(),
        note: (line: string) => this.logs.add('system', line),
        onLines: (stream: 'stdout' | 'stderr', lines: readonly string[], more?: boolean) => {
          const last = lines.length - 1;
          for (let i = 0; i <= last; i++) this.logs.add(stream, lines[i] ?? '', more !== true || i !== last);
        },
      };
      if (this.s.adopt) {
        // Its start was reported by the worker's earlier incarnation.
        this.startReported = true;
        this.logs.add('system', `[kairos] worker ${this.s.workerId} restarted: following the attempt again`);
      }
      const run = a.spec.run;
      const command =
        run.kind === 'notebook'
          ? notebookCommand(run, {
              projectDir: this.s.bundlePath,
              specs: a.spec.params,
              params: a.run.params,
              cellTimeoutMs: a.spec.cellTimeoutMs ?? null,
              artifactsDir: paths.artifacts,
              resultFile: notebookResultFile(paths.output),
            })
          : run;
      const attempt = this.s.adopt ? await this.adopted(output) : await this.s.place.start({
        name: placeAttemptName(a.run.id, a.lease.attempt),
        command,
        cwd,
        env: { ...this.env(paths), ...(await this.serviceEnv()), ...this.environment?.vars },
        resources: {
          ...(r.cpu !== null ? { cpu: r.cpu } : {}),
          ...(r.memoryBytes !== null ? { memoryBytes: r.memoryBytes } : {}),
          ...(r.gpu !== null ? { gpu: r.gpu } : {}),
        },
        timeLimitMs: a.spec.timeoutMs,
        graceMs: a.spec.graceMs,
        paths: { readOnly: [this.s.bundlePath, this.inputsPath(paths), ...(this.environment ? [this.environment.dir] : [])], writable: [paths.artifacts], writableFiles: [paths.output, ...(run.kind === 'notebook' ? [notebookResultFile(paths.output)] : [])] },
        ...(this.image ? { image: { ref: this.image.ref, digest: this.image.digest, network: isContainerEnvironment(a.environment) ? a.environment.network : 'host' } } : {}),
        ...output,
      });
      this.attempt = attempt;
      this.startService();
      void attempt.started.then(
        (info) => {
          this.startedInfo = { pid: info.pid ?? null, procStart: info.procStart ?? null, startedAt: info.startedAt };
          // Reported a moment later, so a short job reports its start with its end in one transaction. The
          // launcher kills its jobs if this worker dies, so the pid is a second line of defence only.
          this.startedTimer = setTimeout(() => this.reportStarted(), STARTED_REPORT_DELAY_MS);
        },
        () => {},
      );
      // Stopped while it was starting.
      if (this.givenUp !== null || this.logs.stale) void attempt.cancel('lost', 0);
      else if (this.outcome) void attempt.cancel(this.outcome === 'timed_out' ? 'time_limit' : 'cancelled');
      const end = await attempt.ended;
      if (end.outputLost) this.outputLost = true;
      this.service?.close();
      await attempt.started.catch(() => null);
      if (this.startedTimer) clearTimeout(this.startedTimer);
      exitCode = end.exitCode;
      if (!this.outcome) this.ended(end);
    } catch (err) {
      if (err instanceof StoppedBeforeStart) {
        // stop() set the outcome; no process was started.
      } else if (err instanceof NetworkError) {
        this.outcome = 'failed';
        this.reason = err.message;
        this.reasonCode = 'network_unreachable';
        this.logs.add('system', `[kairos] ${err.message}`);
      } else {
        this.outcome = 'failed';
        exitCode = 127;
        if (err instanceof EnvError) {
          // The installer's own words, line by line; the reason keeps the first line.
          const lines = err.message.split('\n');
          this.reason = lines[0] ?? err.message;
          this.reasonCode = 'env_build_failed';
          for (const line of lines) this.logs.add('system', `[kairos] ${line}`);
        } else {
          this.reason = `could not start: ${coerceError(err).message}`;
          this.reasonCode = 'could_not_start';
          this.logs.add('system', `[kairos] ${this.reason}`);
        }
      }
    }
    this.service?.close();
    await this.networkReport;
    if (a.spec.run.kind === 'notebook') {
      // The driver's own words on how the notebook ended (which cell failed, and why) make the reason.
      const nb = await readNotebookResult(notebookResultFile(paths.output));
      if (nb && this.reasonCode === 'exit_code') this.reason = nb.reason;
    }
    await this.environment?.release();
    // An adopted attempt may have been started by a worker that made a folder for every attempt.
    if (this.hasInputs || this.s.adopt) await removeDir(inputsDir(paths));
    const metrics = readMetrics(paths.output, (line) => this.logs.add('system', line));
    const artifacts = await this.shipArtifacts(paths.artifacts, await listArtifacts(paths.artifacts));
    const masker = this.logs.masker;
    if (masker) {
      // What reaches the API besides the log: the reason and metric names.
      this.reason = this.reason === null ? null : masker.mask(this.reason);
      for (const [i, m] of metrics.entries()) metrics[i] = { ...m, name: masker.mask(m.name) };
      this.logs.release();
    }
    if (this.outputLost) this.logs.cutForSpace();
    await this.logs.settled();
    if (this.logs.stale) return;
    if (this.logs.cutAtLine !== null) {
      const note = `log cut at line ${this.logs.cutAtLine}: no space left on ${this.logs.cutWhere === 'spool' ? "the disk of the worker's output spool" : "the database's disk"}`;
      this.reason = this.reason === null ? note : `${this.reason}; ${note}`;
    }
    if (this.givenUp !== null) {
      const why = this.givenUp;
      await reportWithRetry(() => this.link.abandon(a.lease, `lost: ${why}`, this.givenUpCode), () => this.s.onRefused?.(a.lease, 'that the attempt was lost'));
      return;
    }
    await this.startReport;
    const started = this.startedInfo && !this.startReported ? this.startedInfo : undefined;
    const env = this.environment
      ? { environment: { hash: this.environment.hash, packages: this.environment.packages } }
      : this.image
        ? { environment: { hash: this.image.hash, packages: [], image: { ref: this.image.ref, digest: this.image.digest } } }
        : {};
    const result: AttemptResult = { outcome: this.outcome ?? 'failed', exitCode, reason: this.reason, reasonCode: this.reasonCode, metrics, artifacts, ...(started ? { started } : {}), ...env };
    await reportWithRetry(() => this.s.report(a.lease, result), () => this.s.onRefused?.(a.lease, 'how the attempt ended'));
  }

  private wakePreflight: (() => void) | null = null;
  /** The preflight's report to the server, sent while the job starts; awaited before the attempt's end. */
  private networkReport: Promise<void> = Promise.resolve();

  /**
   * The network preflight (docs/network.md): every endpoint of `network.needs` checked in parallel under one
   * bound, reported to the server (kept with the attempt; placement prefers workers whose checks passed), and
   * `on_failure` obeyed: `fail` throws, `wait` checks again with backoff up to `max_wait`, `warn` logs.
   */
  private async preflight(): Promise<void> {
    const net = this.a.spec.network as CompiledJobNetwork | undefined;
    if (!net || net.needs.length === 0) return;
    const t0 = Date.now();
    for (let n = 1; ; n++) {
      if (this.outcome) throw new StoppedBeforeStart();
      const checks = await checkEndpoints(net.needs, net.timeoutMs);
      this.s.network?.remember(checks);
      const failed = failedChecks(checks);
      const what = describeFailures(checks);
      const left = net.maxWaitMs - (Date.now() - t0);
      const waiting = failed.length > 0 && net.onFailure === 'wait' && left > 0 ? `waiting for the network: ${what}` : null;
      const report = this.reportNetwork(checks, waiting);
      if (failed.length === 0) {
        const slowest = Math.max(...checks.map((c) => c.latencyMs));
        this.logs.add('system', `[kairos] network: ${checks.length} endpoint${checks.length === 1 ? '' : 's'} ok (slowest ${slowest} ms)`);
        this.networkReport = report;
        return;
      }
      await report;
      if (n === 1 || net.onFailure !== 'wait') for (const c of failed) this.logs.add('system', `[kairos] network: ${c.endpoint}: ${ENDPOINT_RESULT_LABELS[c.result]}${c.detail ? ` (${c.detail})` : ''}`);
      if (net.onFailure === 'warn') {
        this.logs.add('system', '[kairos] network.on_failure is warn: running anyway');
        return;
      }
      if (waiting === null) {
        throw new NetworkError(net.onFailure === 'wait' ? `network preflight: ${what} (still failing after ${Math.round(net.maxWaitMs / 1000)} s of waiting)` : `network preflight: ${what}`);
      }
      const delay = Math.min(networkWaitDelay(n), left);
      if (n === 1) this.logs.add('system', `[kairos] ${waiting}; checking again (up to ${Math.round(net.maxWaitMs / 1000)} s)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakePreflight = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakePreflight = null;
    }
  }

  private reportNetwork(checks: readonly EndpointCheck[], waiting: string | null): Promise<void> {
    return this.link.reportNetwork(this.s.workerId, { checks, lease: this.a.lease, waiting }).catch((err: unknown) => {
      if (isStaleLease(err)) {
        this.s.onRefused?.(this.a.lease, 'its network check');
        this.kill('lease lost during the network preflight');
      }
      // Otherwise not kept with the attempt: the preflight's own result still decides.
    });
  }

  /** The place's attempt from before the restart; one that is gone ends as lost (retried by policy). */
  private async adopted(output: PlaceOutput): Promise<PlaceAttempt> {
    const name = placeAttemptName(this.a.run.id, this.a.lease.attempt);
    const found = await this.s.place.adopt(name, output);
    if (found) return found;
    const end: PlaceEnd = { reason: 'lost', exitCode: null, signal: null, detail: 'the worker restarted and its place no longer runs the attempt' };
    return { name, started: Promise.reject(new Error(end.detail)), ended: Promise.resolve(end), cancel: () => Promise.resolve() };
  }

  /** How the attempt ended, from the place's words, when Kairos did not end it itself. */
  private ended(end: PlaceEnd): void {
    switch (end.reason) {
      case 'time_limit':
        this.outcome = 'timed_out';
        this.reason = `timed out after ${this.a.spec.timeoutMs ?? 0}ms`;
        this.reasonCode = 'time_limit';
        return;
      case 'cancelled':
        this.outcome = 'cancelled';
        this.reason = end.detail ?? 'cancelled';
        this.reasonCode = 'cancelled';
        return;
      case 'oom':
        this.outcome = 'failed';
        this.reason = `killed: ${end.detail ?? 'out of memory'}`;
        this.reasonCode = 'out_of_memory';
        this.logs.add('system', `[kairos] ${this.reason}`);
        return;
      case 'node_failure':
      case 'preempted':
      case 'lost': {
        // Nobody knows how far it got: given up as lost, so the run is retried by policy.
        const why = end.detail ?? (end.reason === 'node_failure' ? 'the node running it failed' : end.reason === 'preempted' ? 'preempted' : 'the place lost it');
        this.givenUp = why;
        this.givenUpCode = end.reason === 'node_failure' ? 'node_failure' : 'lost';
        this.outcome = 'failed';
        this.reason = why;
        this.reasonCode = this.givenUpCode;
        this.logs.add('system', `[kairos] lost: ${why}`);
        return;
      }
      default: {
        const ok = end.exitCode === 0;
        this.outcome = ok ? 'succeeded' : 'failed';
        this.reason = ok ? null : end.reason === 'signal' && end.signal ? `killed by ${end.signal}` : `exit code ${end.exitCode ?? 'unknown'}`;
        this.reasonCode = ok ? null : end.reason === 'signal' ? 'signal' : 'exit_code';
      }
    }
  }

  /**
   * Sends what the job left in KAIROS_ARTIFACTS to the artifact store (whatever the attempt's outcome): the
   * server says which blobs it lacks and what it will not keep (limits, said in the log); returns the
   * artifacts to record. A blob that fails to go up is said in the log and recorded as not stored.
   */
  private async shipArtifacts(dir: string, artifacts: Artifact[]): Promise<Artifact[]> {
    if (artifacts.length === 0 || this.logs.stale) return artifacts;
    const log = (line: string) => this.logs.add('system', line);
    let wanted;
    try {
      wanted = await this.link.artifactsWanted(this.a.lease, artifacts);
    } catch (err) {
      log(`[kairos] artifacts: not uploaded: ${coerceError(err).message}`);
      return artifacts;
    }
    if (wanted.message) log(wanted.message);
    const refused = new Set(wanted.refused.map((r) => r.path));
    const need = new Set(wanted.upload);
    let sent = 0;
    let bytes = 0;
    for (const a of artifacts) {
      if (refused.has(a.path) || !need.has(a.sha256)) continue;
      need.delete(a.sha256);
      for (let tries = 1; ; tries++) {
        try {
          await this.link.uploadArtifact(this.a.lease, a, join(dir, a.path));
          sent++;
          bytes += a.size;
          break;
        } catch (err) {
          if (tries < 3 && !(err instanceof KairosError && err.code !== 'unavailable')) continue;
          log(`[kairos] artifact ${a.path} not uploaded: ${coerceError(err).message}`);
          break;
        }
      }
    }
    if (sent > 0) log(`[kairos] artifacts: ${sent} uploaded (${showSize(bytes)}); ${artifacts.length - refused.size} kept`);
    return artifacts.filter((a) => !refused.has(a.path));
  }

  /** Reuses or builds the job's environment (once per content hash on this machine), logging progress. */
  private async prepareEnvironment(): Promise<void> {
    const env = this.a.environment;
    if (!env || env.kind === 'system') return;
    if (isContainerEnvironment(env)) {
      const registry = this.a.registry ? parseRegistry(this.a.registry) : null;
      if (this.a.registry && !registry) throw new EnvError(`environment ${env.name}: the server's registry ${JSON.stringify(this.a.registry)} is not HOST:PORT[/PREFIX]`);
      const images = this.s.images ?? new ImageCache(podmanSettingsFromEnv(), join(this.s.dataDir, 'envs', '.image-locks'));
      this.image = await images.prepare(env, this.s.bundlePath, registry, this.a.pinnedEnvironment?.image ?? null, (line) => this.logs.add('system', line));
      return;
    }
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
      if (isStaleLease(err)) {
        // Said like every other refusal: the worker's log tells why this attempt's job was killed.
        this.s.onRefused?.(this.a.lease, 'the start of its process');
        this.kill('lease lost before start');
      }
      // Not taken (the database was unavailable): the start goes with the attempt's end instead.
      else this.startReported = false;
    });
  }
}

/** Reports survive a busy moment of the control plane; a stale lease ends the attempt's story. */
export async function reportWithRetry(fn: () => Promise<void>, onStale?: () => void): Promise<void> {
  try {
    // An unavailable database is waited for (the report is sent again until it is taken).
    await retrying(fn, { backoff: REPORT_BACKOFF, maxTries: 31, fatal: isStaleLease, outlasts: (err) => unavailableReason(err) !== null });
  } catch (err) {
    if (!isStaleLease(err)) throw err;
    onStale?.();
  }
}

