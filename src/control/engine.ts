/**
 * The control plane in one object: what the HTTP API calls, and the in-process link the local worker uses.
 * It owns the loops (scheduler, lease reaper); the state changes themselves live in the modules it calls.
 */
import type { CompiledManifest } from '../model/job.js';
import type { Db } from '../store/db.js';
import type { Artifact, ArtifactsWanted, Assignment, AttemptResult, ControlLink, HeartbeatReply, LeaseRef, LogLine, NetworkReport, StartedInfo, WorkerInfo } from '../protocol/worker.js';
import { probesOf, recordNetwork } from './network.js';
import { Bus, Ctx } from './context.js';
import { deployDirectory, type DeployOutcome } from './deployments.js';
import * as dispatch from './dispatch/index.js';
import { cancelRun, createRun, rerun, type CreateRunRequest } from './runs.js';
import { Scheduler } from './scheduler.js';
import { PipelineDriver, cancelPipelineRun, createPipelineRun, rerunPipelineFromFailed, type CreatePipelineRunRequest, type PipelineRunRow } from './pipelines.js';
import { assertTzdata } from './tzdata.js';
import { resealSecrets, secretKey } from './secrets.js';
import { nextQueuedNotBefore, type RunRow } from '../store/runs.js';
import { LateCheck, alertsEnqueuedHere } from './alerts.js';
import { isTerminal, type RunState } from '../model/run-state.js';
import { AlertDelivery, type DeliverySettings } from './webhooks.js';
import { unavailableReason } from '../store/availability.js';
import { Loop } from '../lib/loop.js';
import type { Readable } from 'node:stream';
import type { ResolvedInput } from '../model/inputs.js';
import { resolveAttemptInputs } from './snapshots.js';
import { collect, RETENTION_DEFAULTS, type CollectReport, type RetentionSettings } from './retention.js';
import { artifactsWanted, storeArtifactFile } from './artifacts.js';
import type { ArtifactStore } from '../artifacts/store.js';
import type { ArtifactLimits } from '../artifacts/policy.js';

export interface EngineOptions {
  readonly db: Db;
  readonly dataDir: string;
  readonly leaseMs?: number;
  readonly random?: () => number;
  readonly onError?: (err: unknown) => void;
  /** See ControlSettings.webhookAllowHosts. */
  readonly webhookAllowHosts?: readonly string[];
  /** See ControlSettings.artifactStore / artifactLimits. */
  readonly artifactStore?: ArtifactStore;
  readonly artifactLimits?: ArtifactLimits;
  /** See ControlSettings.registry. */
  readonly registry?: string | null;
  /** Server-wide retention defaults and the collector's pace (docs/snapshots.md). */
  readonly retention?: Partial<RetentionSettings>;
}

export class Engine implements ControlLink {
  readonly bus = new Bus();
  readonly ctx: Ctx;
  private scheduler: Scheduler | null = null;
  private pipelines: PipelineDriver | null = null;
  private reaper: Loop | null = null;
  private lateCheck: LateCheck | null = null;
  private delivery: AlertDelivery | null = null;
  private wakeDelivery: ((e: { id: string; state: string }) => void) | null = null;
  private wakePipelineDelivery: ((e: { id: string; state: string }) => void) | null = null;
  private readonly onError: (err: unknown) => void;

  /** Counts 'work' events, so a worker can tell whether one happened while it was busy claiming. */
  private workVersion = 0;

  get currentWorkVersion(): number {
    return this.workVersion;
  }

  /** The artifact store: run artifacts and snapshot files, by SHA-256. */
  get artifacts(): ArtifactStore {
    return this.ctx.artifactStore;
  }
  readonly retention: RetentionSettings;
  private collector: Loop | null = null;

  constructor(opts: EngineOptions) {
    this.retention = { ...RETENTION_DEFAULTS, ...opts.retention };
    this.ctx = new Ctx(opts.db, this.bus, { dataDir: opts.dataDir, leaseMs: opts.leaseMs ?? 30_000, ...(opts.webhookAllowHosts ? { webhookAllowHosts: opts.webhookAllowHosts } : {}), ...(opts.artifactStore ? { artifactStore: opts.artifactStore } : {}), ...(opts.artifactLimits ? { artifactLimits: opts.artifactLimits } : {}), ...(opts.registry ? { registry: opts.registry } : {}) }, opts.random);
    const onError = opts.onError ?? ((err) => console.error('kairos:', err));
    // The loops meet an unavailable database every second while it lasts: said once per outage, not each time.
    let outageSaid: number | null | undefined;
    this.onError = (err) => {
      if (unavailableReason(err) !== null) {
        const since = opts.db.availability.lastSuccessAt;
        if (outageSaid === since) return;
        outageSaid = since;
      }
      onError(err);
    };
    this.bus.on('work', () => this.workVersion++);
    this.linkPeers(opts.db);
  }

  /**
   * Control planes sharing a PostgreSQL database tell each other about new work, changed schedules and runs
   * that ended, so a worker long-polling one replica hears of a run another replica created at once.
   */
  private linkPeers(db: Db): void {
    const peers = db.peers;
    if (!peers) return;
    const forwarded = ['work', 'schedules'] as const;
    let fromPeer = false;
    for (const event of forwarded) {
      this.bus.on(event, () => {
        if (!fromPeer) peers.publish(event);
      });
    }
    // Runs that end: a client waiting on one replica for a run a worker finished through another.
    this.bus.on('run', (e) => {
      if (!fromPeer && isTerminal(e.state as RunState)) peers.publish(`run ${e.id} ${e.state}`);
    });
    peers.subscribe((event) => {
      fromPeer = true;
      try {
        const [kind, id, state] = event.split(' ');
        if (kind === 'run' && id && state) this.bus.emit('run', { id, state });
        else if ((forwarded as readonly string[]).includes(event)) this.bus.emit(event as (typeof forwarded)[number]);
      } finally {
        fromPeer = false;
      }
    });
  }

  get db(): Db {
    return this.ctx.db;
  }

  /** Starts the scheduler and the lease reaper. Refuses (throws) on a tz database older than the minimum. */
  start(): void {
    assertTzdata();
    // A bad KAIROS_SECRET_KEY or an exposed key file stops the start with a clear error, not the first run.
    secretKey(this.ctx);
    resealSecrets(this.ctx).catch(this.onError);
    this.scheduler = new Scheduler(this.ctx, this.onError);
    this.scheduler.start();
    this.pipelines = new PipelineDriver(this.ctx, this.onError);
    this.pipelines.start();
    const every = Math.max(200, Math.min(5000, Math.floor(this.ctx.settings.leaseMs / 4)));
    this.reaper = new Loop({ pass: async () => {
        await dispatch.reapExpired(this.ctx);
        await dispatch.expireUnstarted(this.ctx);
      }, everyMs: every, onError: this.onError });
    this.reaper.start();
    this.lateCheck = new LateCheck(this.ctx, this.onError, () => this.delivery?.wake());
    this.lateCheck.start();
    this.collector = new Loop({ pass: async () => void (await this.collectGarbage()), everyMs: this.retention.everyMs, onError: this.onError });
    this.collector.start(Math.min(60_000, this.retention.everyMs));
  }

  /** One pass of the retention collector: artifact records beyond retention, then blobs nothing references. */
  collectGarbage(): Promise<CollectReport> {
    return collect(this.ctx, this.artifacts, this.retention);
  }

  /** Stops the scheduler, the reaper and the late check; resolves when their passes in flight have finished. */
  async stopLoops(): Promise<void> {
    const loops = [this.scheduler, this.pipelines, this.reaper, this.lateCheck, this.collector];
    this.pipelines = null;
    this.collector = null;
    this.scheduler = null;
    this.reaper = null;
    this.lateCheck = null;
    await Promise.all(loops.map((l) => l?.stop()));
  }

  /** Starts delivering alerts; started once the API listens, so that links in alerts have their base. */
  startAlertDelivery(settings: DeliverySettings): void {
    const delivery = new AlertDelivery(this.ctx, settings, this.onError);
    this.delivery = delivery;
    // A run's alerts are committed with its end: look for them as soon as it is announced.
    let seen = alertsEnqueuedHere();
    this.wakeDelivery = (e) => {
      if (!isTerminal(e.state as RunState) || alertsEnqueuedHere() === seen) return;
      seen = alertsEnqueuedHere();
      delivery.wake();
    };
    this.bus.on('run', this.wakeDelivery);
    // A pipeline run's own alerts are committed with its end, announced as a `pipeline` event.
    this.wakePipelineDelivery = (e) => {
      if (e.state === 'running' || alertsEnqueuedHere() === seen) return;
      seen = alertsEnqueuedHere();
      delivery.wake();
    };
    this.bus.on('pipeline', this.wakePipelineDelivery);
    delivery.start();
  }

  /** Stops delivering alerts, waiting for the POSTs in flight. Before the database closes. */
  async stopAlertDelivery(): Promise<void> {
    if (this.wakeDelivery) this.bus.off('run', this.wakeDelivery);
    if (this.wakePipelineDelivery) this.bus.off('pipeline', this.wakePipelineDelivery);
    this.wakeDelivery = null;
    await this.delivery?.stop();
    this.delivery = null;
  }

  deploy(dir: string, manifest: CompiledManifest, source: string): Promise<DeployOutcome> {
    return deployDirectory(this.ctx, dir, manifest, source);
  }

  createRun(req: CreateRunRequest): Promise<RunRow> {
    return createRun(this.ctx, req);
  }

  cancelRun(id: string): Promise<RunRow> {
    return cancelRun(this.ctx, id);
  }

  rerun(id: string): Promise<RunRow> {
    return rerun(this.ctx, id);
  }

  /** Starts a pipeline run (docs/pipelines.md). */
  createPipelineRun(req: CreatePipelineRunRequest): Promise<PipelineRunRow> {
    return createPipelineRun(this.ctx, req);
  }

  cancelPipelineRun(id: string): Promise<PipelineRunRow> {
    return cancelPipelineRun(this.ctx, id);
  }

  rerunPipelineFromFailed(id: string): Promise<PipelineRunRow> {
    return rerunPipelineFromFailed(this.ctx, id);
  }

  reapExpired(): Promise<number> {
    return dispatch.reapExpired(this.ctx);
  }

  // ── ControlLink: the in-process worker's view ──

  registerWorker(info: WorkerInfo): Promise<void> {
    return dispatch.registerWorker(this.ctx, info);
  }
  unregisterWorker(workerId: string): Promise<void> {
    return dispatch.unregisterWorker(this.ctx, workerId);
  }
  recoverWorker(workerId: string) {
    return dispatch.workerLiveAttempts(this.ctx, workerId);
  }
  claim(workerId: string, pools: readonly string[], max: number): Promise<Assignment[]> {
    return dispatch.claim(this.ctx, workerId, pools, max);
  }
  /** The in-process worker shares the control plane's data directory: bundles are already there. */
  async ensureBundle(): Promise<void> {}
  started(lease: LeaseRef, info: StartedInfo): Promise<void> {
    return dispatch.markStarted(this.ctx, lease, info);
  }
  heartbeat(workerId: string, leases: readonly LeaseRef[]): Promise<HeartbeatReply> {
    return dispatch.heartbeat(this.ctx, workerId, leases);
  }
  appendLogs(lease: LeaseRef, lines: readonly LogLine[]): Promise<void> {
    return dispatch.appendLogs(this.ctx, lease, lines);
  }
  appendLogsMany(items: readonly { lease: LeaseRef; lines: readonly LogLine[] }[]) {
    return dispatch.appendLogsMany(this.ctx, items);
  }
  finish(lease: LeaseRef, result: AttemptResult, next?: dispatch.ClaimRequest): Promise<Assignment[]> {
    return dispatch.finish(this.ctx, lease, result, next);
  }
  artifactsWanted(lease: LeaseRef, artifacts: readonly Artifact[]): Promise<ArtifactsWanted> {
    return artifactsWanted(this.ctx, lease, artifacts);
  }
  uploadArtifact(lease: LeaseRef, artifact: Artifact, file: string): Promise<void> {
    return storeArtifactFile(this.ctx, lease, { sha256: artifact.sha256, size: artifact.size }, file);
  }
  /** `reasonCode`: the worker's (checked: anything but lost, node_failure or shutdown is recorded as lost). */
  abandon(lease: LeaseRef, reason: string, reasonCode?: unknown): Promise<void> {
    return dispatch.abandon(this.ctx, lease, reason, reasonCode);
  }

  async waitForWork(_pools: readonly string[], since: number, timeoutMs: number, signal: AbortSignal): Promise<number> {
    if (this.workVersion !== since) return this.workVersion;
    const now = this.ctx.now();
    const retryAt = await nextQueuedNotBefore(this.db.kysely, now);
    if (retryAt !== null) timeoutMs = Math.min(timeoutMs, retryAt - now + 1);
    if (this.workVersion !== since) return this.workVersion;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.bus.off('work', done);
        signal.removeEventListener('abort', done);
        resolve(this.workVersion);
      };
      const timer = setTimeout(done, timeoutMs);
      this.bus.on('work', done);
      signal.addEventListener('abort', done);
    });
  }

  reportNetwork(workerId: string, report: NetworkReport): Promise<void> {
    return recordNetwork(this.ctx, workerId, report);
  }

  onProbe(listener: (workerId: string) => void): () => void {
    const board = probesOf(this.ctx);
    board.on('queued', listener);
    return () => board.off('queued', listener);
  }

  resolveInputs(lease: LeaseRef): Promise<readonly ResolvedInput[]> {
    return resolveAttemptInputs(this.ctx, lease);
  }

  fetchBlob(sha256: string): Promise<Readable> {
    return this.artifacts.get(sha256);
  }

  onCancel(listener: (runId: string) => void): () => void {
    const l = ({ runId }: { runId: string }) => listener(runId);
    this.bus.on('cancel', l);
    return () => this.bus.off('cancel', l);
  }
}
