/**
 * A worker: claims attempts for its pools up to its capacity, runs each in its place, renews its leases by
 * heartbeat, and kills any attempt whose lease it can no longer prove, before the lease runs out.
 */
import { InputCache } from './inputs.js';
import { hostname } from 'node:os';
import { coerceError } from '../model/errors.js';
import { unavailableReason } from '../model/unavailable.js';

/** The control plane is there but its database cannot take writes for now (a 503 `unavailable`, or in-process the store's own error). */
export function isUnavailable(err: unknown): boolean {
  return unavailableReason(err) !== null;
}
import { bundleDir } from '../bundle/bundle.js';
import { AttemptRunner, noInputsDir } from './attempt.js';
import { LogBatcher } from './log-shipping.js';
import { workerBaseEnv } from '../model/run-env.js';
import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { killStaleGroup } from './places/local.js';
import { createPlace, placeAttemptName, type Place, type PlaceChoice } from './places/index.js';
import { cleanupStaleCgroups } from './places/cgroups.js';
import { resolveSandbox, type Sandbox, type SandboxOptions } from './places/sandbox.js';
import type { Assignment, ControlLink } from '../protocol/worker.js';
import { EnvCache, envCacheOptionsFromEnv, type EnvCacheOptions } from './envs/index.js';
import type { InternalIndex } from './envs/index-proxy.js';
import { LinkState, retryDelayMs } from './reconnect.js';
import { NetworkMemory, checkEndpoints } from './preflight.js';
import { placeHealth } from './place-health.js';
import type { Probe } from '../protocol/worker.js';
import type { RelayEndpoint } from './service.js';

/**
 * The reason an idle wait is ended with: abort() without a reason makes a DOMException, stack trace and all, and
 * the worker ends an idle wait for every run.
 */
const WOKEN = 'woken';

/** A folder that exists, is empty (what a job without a sandbox left in it is removed) and has `mode`. */
function emptyFolder(dir: string, mode: number): void {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  chmodSync(dir, mode);
}

/**
 * Per-run log caps. Past either, the log ends with an explicit truncation marker. Large enough that a job
 * printing a gigabyte keeps every line; a runaway job still cannot fill the store.
 */
export const DEFAULT_MAX_LOG_LINES = 50_000_000;
export const DEFAULT_MAX_LOG_BYTES = 2 * 1024 * 1024 * 1024;

export interface WorkerOptions {
  readonly id: string;
  readonly pools: readonly string[];
  readonly capacity: number;
  readonly dataDir: string;
  readonly version: string;
  readonly leaseMs: number;
  readonly flushMs?: number;
  readonly maxLogLines?: number;
  readonly maxLogBytes?: number;
  readonly onError?: (err: unknown) => void;
  /** What the worker says that is not an error (the control plane answering again). Default: stderr. */
  readonly onNotice?: (message: string) => void;
  /** How often leases are renewed (default: a third of the lease). Remote workers also learn of cancels then. */
  readonly heartbeatMs?: number;
  /** How long a claim may wait on the server for a run (remote workers long-poll; 0 in-process). */
  readonly claimWaitMs?: number;
  /** Size and age limits of the environment cache under `<dataDir>/envs`. */
  readonly envCache?: EnvCacheOptions;
  /** The team's package index (the server's /simple/ and a token that reads it); see setPackageIndex. */
  readonly packageIndex?: InternalIndex | null;
  /** How jobs are sandboxed (default `auto`: bubblewrap where it is installed; see docs/isolation.md). */
  readonly sandbox?: SandboxOptions;
  /** Where attempts run (`--place`, default local) and what it offers instead of what it measures. */
  readonly place?: PlaceChoice;
  /** The server that relays this worker's services (docs/services.md); see setServiceRelay. */
  readonly serviceRelay?: RelayEndpoint | null;
}

export class Worker {
  private readonly active = new Map<string, AttemptRunner>();
  private readonly abort = new AbortController();
  private accepting = true;
  private loopDone: Promise<void> = Promise.resolve();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  /** When the control plane last renewed our leases (monotonic ms: a step of the wall clock is not time passing). */
  private lastRenewed = performance.now();
  /** The control plane said its database was unavailable at the last heartbeat. */
  private dbOutage = false;
  private unsubscribe: () => void = () => {};
  private readonly onError: (err: unknown) => void;
  /** Where this worker runs its attempts. */
  readonly place: Place;
  private readonly logBatcher: LogBatcher;
  private envs: EnvCache | undefined;
  private inputCacheOnce: InputCache | undefined;
  /** Input files by content hash, shared by this worker's attempts. */
  private get inputCache(): InputCache {
    this.inputCacheOnce ??= new InputCache(this.opts.dataDir, this.link);
    return this.inputCacheOnce;
  }
  /** Null: jobs run unsandboxed. */
  readonly sandbox: Sandbox | null;
  private readonly linkState: LinkState;
  /** Claims that failed in a row: the pause before the next one grows with them. */
  private claimFailures = 0;
  /** The latest check of each endpoint this worker made (docs/network.md). */
  readonly network = new NetworkMemory();
  private readonly probing = new Set<string>();

  constructor(
    private readonly link: ControlLink,
    private readonly opts: WorkerOptions,
  ) {
    this.onError = opts.onError ?? ((err) => console.error('kairos worker:', coerceError(err).message));
    this.logBatcher = new LogBatcher(link);
    this.sandbox = resolveSandbox(opts.sandbox);
    this.place = createPlace(opts.place ?? { kind: 'local' }, { workerId: opts.id, dataDir: opts.dataDir, slots: opts.capacity, sandbox: this.sandbox });
    this.linkState = new LinkState(this.onError, opts.onNotice ?? ((m) => console.error(`kairos worker: ${m}`)));
  }

  private packageIndex: InternalIndex | null = null;

  /** Python environments resolve names the team's index has from it alone (set once the server listens). */
  setPackageIndex(index: InternalIndex | null): void {
    this.packageIndex = index;
    if (this.envs) this.envs.internalIndex = index;
  }

  private serviceRelay: RelayEndpoint | null = null;

  /** Service jobs open their tunnels to this server (set once the server listens, for the in-process worker). */
  setServiceRelay(endpoint: RelayEndpoint | null): void {
    this.serviceRelay = endpoint;
  }

  get running(): number {
    return this.active.size;
  }

  async start(): Promise<void> {
    mkdirSync(join(this.opts.dataDir, 'attempts'), { recursive: true });
    emptyFolder(noInputsDir(this.opts.dataDir), 0o555);
    this.envs = new EnvCache(join(this.opts.dataDir, 'envs'), this.opts.envCache ?? envCacheOptionsFromEnv());
    this.envs.internalIndex = this.packageIndex ?? this.opts.packageIndex ?? null;
    void this.envs.evict().catch(this.onError);
    const offer = await this.place.offer();
    await this.link.registerWorker({ id: this.opts.id, host: hostname(), pools: this.opts.pools, capacity: this.opts.capacity, version: this.opts.version, place: this.place.kind, offer });
    await this.recover();
    const offCancel = this.link.onCancel((runId) => this.active.get(runId)?.stop('cancelled', 'cancelled'));
    const offProbe = this.link.onProbe?.((workerId) => {
      if (workerId === this.opts.id) void this.heartbeat();
    });
    this.unsubscribe = () => {
      offCancel();
      offProbe?.();
    };
    const every = this.opts.heartbeatMs ?? Math.max(100, Math.floor(this.opts.leaseMs / 3));
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), every);
    this.loopDone = this.loop();
  }

  /**
   * Attempts this worker id held before a crash: their processes may still be running (they lead their own
   * process groups). Kill them, so there is never a second live attempt, and give the attempts up.
   */
  private async recover(): Promise<void> {
    // Descendants of its old jobs that escaped their process groups are still in its old cgroups.
    await cleanupStaleCgroups(this.opts.id).catch(this.onError);
    const stale = await this.link.recoverWorker(this.opts.id);
    // A place whose attempts outlive the worker (Slurm) adopts those whose lease still lives.
    const live = this.place.kind === 'local' ? new Set<string>() : new Set(await this.place.live().catch(() => []));
    const handled = new Set<string>();
    for (const s of stale) {
      if (s.assignment && live.has(placeAttemptName(s.lease.runId, s.lease.attempt))) {
        handled.add(placeAttemptName(s.lease.runId, s.lease.attempt));
        this.run(s.assignment, true);
        continue;
      }
      if (s.pid !== null) killStaleGroup(s.pid, s.procStart);
      // A place whose attempts outlive the worker (a cluster) still runs it: end it before the retry.
      await this.place.end(placeAttemptName(s.lease.runId, s.lease.attempt)).catch(this.onError);
      handled.add(placeAttemptName(s.lease.runId, s.lease.attempt));
      await this.link.abandon(s.lease, 'lost: the worker restarted while the attempt was running', 'node_failure').catch(this.onError);
    }
    // What this worker started that no lease of it holds any more (the server gave it up): orphans, ended.
    if (this.place.livePerWorker) for (const name of live) if (!handled.has(name)) await this.place.end(name).catch(this.onError);
  }

  /** The control plane's work version as of our last claim: a wake-up after it is never missed. */
  private seen = -1;

  private async loop(): Promise<void> {
    while (this.accepting) {
      try {
        const free = this.opts.capacity - this.active.size;
        const assignments = free > 0 ? await this.link.claim(this.opts.id, this.opts.pools, free, { waitMs: this.opts.claimWaitMs ?? 0, signal: this.abort.signal }) : [];
        if (free > 0) {
          this.claimFailures = 0;
          this.linkState.ok('claim');
        }
        if (assignments.length > 0) this.armWatchdog();
        for (const a of assignments) this.run(a);
        // Fewer than asked for: the queue is drained for now, so wait for news instead of asking again.
        if (assignments.length < free || this.active.size >= this.opts.capacity) await this.idle();
      } catch (err) {
        if (!this.accepting) break; // the long-poll was aborted by stop()
        if (isUnavailable(err)) {
          // The control plane answered, but its database is unavailable: said once per outage.
          if (!this.dbOutage) this.onError(err);
          await this.idle(1000);
        } else {
          // A server that is gone fails a claim at once: pause (growing, jittered) before the next, and say it
          // once, not once per try. A heartbeat that gets through again ends the pause early.
          this.linkState.failed('claim', err);
          await this.pause(retryDelayMs(++this.claimFailures, Math.random()));
        }
      }
    }
  }

  /** Leases were just renewed (or granted): the launcher kills our jobs if we go quiet for most of a lease. */
  private armWatchdog(force = false): void {
    // Claims arm it too (a new lease was granted), one write to the launcher each: skipped when it was armed
    // within the last twentieth of a lease, which only makes the watchdog fire that much earlier, never later
    // than the lease it guards. Heartbeats always arm it.
    const now = Date.now();
    if (!force && now - this.armedAt < this.opts.leaseMs / 20) return;
    this.armedAt = now;
    this.place.watchdog?.(Math.floor(this.opts.leaseMs * 0.8));
  }
  private armedAt = 0;

  private run(a: Assignment, adopt = false): void {
    // The bundle may have to come over the network first; the attempt waits for it.
    let ready = this.link.ensureBundle(this.opts.dataDir, a.bundleHash);
    // An earlier attempt of this run still running here: the control plane gave the run a new attempt, so that
    // lease is gone (it expired while this worker or its control plane was stalled). Never two live attempts:
    // the old one is killed, and the new one starts only once the old one's process has ended.
    const before = this.active.get(a.run.id);
    if (before && before.lease.attempt !== a.lease.attempt) {
      this.refused(before.lease, 'the run has a new attempt; the old one is killed before the new one starts');
      before.kill('lease lost: the run has a newer attempt');
      ready = Promise.all([ready, before.done.catch(() => {})]).then(() => {});
    }
    const runner = new AttemptRunner(this.link, a, {
      dataDir: this.opts.dataDir,
      bundlePath: bundleDir(this.opts.dataDir, a.bundleHash),
      workerId: this.opts.id,
      place: this.place,
      logs: this.logBatcher,
      ready,
      flushMs: this.opts.flushMs ?? 200,
      onRefused: (lease, what) => this.refused(lease, `the control plane would not take ${what}, and the attempt is dropped here`),
      maxLogLines: this.opts.maxLogLines ?? DEFAULT_MAX_LOG_LINES,
      maxLogBytes: this.opts.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES,
      ...(this.envs ? { envs: this.envs } : {}),
      network: this.network,
      ...(adopt ? { adopt } : {}),
      inputs: this.inputCache,
      relay: this.serviceRelay ?? this.opts.serviceRelay ?? null,
      report: async (lease, result) => {
        // Ask for the next runs in the same report: the slot this attempt frees is refilled at once.
        const free = this.accepting ? this.opts.capacity - this.active.size + 1 : 0;
        const next = free > 0 ? { workerId: this.opts.id, pools: this.opts.pools, max: free } : undefined;
        const more = await this.link.finish(lease, result, next);
        if (this.active.get(a.run.id) === runner) this.active.delete(a.run.id);
        if (more.length > 0) this.armWatchdog();
        for (const m of more) this.run(m);
      },
    });
    this.active.set(a.run.id, runner);
    runner.done
      .catch(this.onError)
      .finally(() => {
        if (this.active.get(a.run.id) === runner) this.active.delete(a.run.id);
        this.wake();
      });
  }

  private wakeUp: (() => void) | null = null;
  private readonly refusedLeases = new Set<string>();

  /** Says once per attempt that the control plane refused its lease (a heartbeat, its logs or its report). */
  private refused(lease: { runId: string; attempt: number }, what: string): void {
    const key = `${lease.runId}/${lease.attempt}`;
    if (this.refusedLeases.has(key)) return;
    this.refusedLeases.add(key);
    if (this.refusedLeases.size > 1000) this.refusedLeases.clear();
    this.onError(new Error(`the lease on run ${lease.runId} attempt ${lease.attempt} was refused (it expired); ${what}`));
  }

  private wake(): void {
    this.wakeUp?.();
  }

  /** Waits `ms`, or less when stop() is called or wake() says the control plane answers again. */
  private pause(ms: number): Promise<void> {
    if (!this.accepting) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.abort.signal.removeEventListener('abort', done);
        if (this.wakeUp === done) this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.abort.signal.addEventListener('abort', done);
      this.wakeUp = done;
    });
  }

  private idle(ms = 1000): Promise<void> {
    if (!this.accepting) return Promise.resolve();
    const local = new AbortController();
    const onAbort = () => local.abort(WOKEN);
    this.abort.signal.addEventListener('abort', onAbort);
    this.wakeUp = onAbort;
    const full = this.active.size >= this.opts.capacity;
    const wait = full
      ? new Promise<void>((r) => setTimeout(r, ms))
      : this.link.waitForWork(this.opts.pools, this.seen, ms, local.signal).then((v) => {
          this.seen = v;
        });
    return Promise.race([wait, new Promise<void>((r) => local.signal.addEventListener('abort', () => r()))]).finally(() => {
      this.abort.signal.removeEventListener('abort', onAbort);
      if (this.wakeUp === onAbort) this.wakeUp = null;
      local.abort(WOKEN);
    });
  }

  private async heartbeat(): Promise<void> {
    const leases = [...this.active.values()].map((r) => r.lease);
    try {
      const reply = await this.link.heartbeat(this.opts.id, leases);
      if (this.dbOutage) this.onError(new Error('the control plane\'s database is back; leases renewed'));
      this.dbOutage = false;
      this.lastRenewed = performance.now();
      // The control plane is back: a claim waiting out its pause may try now.
      if (this.linkState.ok('heartbeat') && this.claimFailures > 0) this.wake();
      this.armWatchdog(true);
      for (const l of reply.refused) {
        const runner = this.active.get(l.runId);
        if (!runner) continue;
        this.refused(l, 'the attempt is killed and its reports dropped');
        runner.kill('lease refused by the control plane');
      }
      for (const runId of reply.cancel) this.active.get(runId)?.stop('cancelled', 'cancelled');
      for (const p of reply.probes ?? []) void this.probe(p);
    } catch (err) {
      if (isUnavailable(err)) {
        // The control plane answered, but its database cannot take the renewal (locked, down, disk full).
        // It extends running leases once the database is back, so the jobs keep running; said once per outage.
        if (!this.dbOutage) this.onError(err);
        this.dbOutage = true;
        this.lastRenewed = performance.now();
        this.armWatchdog(true);
        return;
      }
      this.linkState.failed('heartbeat', err);
      // Better to kill our jobs than to let a second attempt start beside them once our leases expire.
      if (performance.now() - this.lastRenewed > this.opts.leaseMs * 0.8) {
        for (const r of this.active.values()) r.giveUp('the worker could not renew its lease (the control plane was unreachable)');
      }
    }
  }

  /** `kairos doctor` asked: check these endpoints now, and say how this worker's place is. */
  private async probe(p: Probe): Promise<void> {
    if (this.probing.has(p.id)) return;
    this.probing.add(p.id);
    try {
      const checks = await checkEndpoints(p.endpoints, p.timeoutMs);
      this.network.remember(checks);
      const own = await this.place.health().catch((err: unknown) => ({ ok: false, detail: err instanceof Error ? err.message : String(err) }));
      const health = [{ name: `${this.place.kind} place`, ok: own.ok, detail: own.detail }, ...(await placeHealth({ place: this.place.kind, dataDir: this.opts.dataDir, sandbox: this.sandbox }))];
      await this.link.reportNetwork(this.opts.id, { checks, probe: p.id, placeHealth: health, now: Date.now(), place: this.place.kind });
    } catch (err) {
      this.onError(err);
    } finally {
      this.probing.delete(p.id);
    }
  }

  /**
   * Stops claiming work; waits up to `graceMs` for running attempts, then kills what is left and gives those
   * attempts up (lost), so their runs are retried by policy.
   */
  async stop(graceMs: number): Promise<void> {
    this.accepting = false;
    this.abort.abort();
    await this.loopDone;
    const all = () => Promise.allSettled([...this.active.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([all().then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), graceMs)))]);
    clearTimeout(timer);
    if (timedOut) {
      // Release what is left: kill it and give the attempts up (lost), so the runs are retried by policy. Each
      // run's log says why its job was killed, before the attempt is reported lost.
      const why = `the worker shut down and its grace period (${Math.round(graceMs / 100) / 10} s) ran out before the attempt finished: its job was killed`;
      for (const r of this.active.values()) r.giveUp(why, 'shutdown');
      await all();
    }
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.place.close();
    this.unsubscribe();
    await this.link.unregisterWorker(this.opts.id).catch(this.onError);
  }
}
