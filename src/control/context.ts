/** What the control plane's parts share: the store, the event bus, and settings. */
import { EventEmitter } from 'node:events';
import type { CompiledManifest } from '../model/job.js';
import { openArtifactStore, type ArtifactStore } from '../artifacts/store.js';
import type { ArtifactLimits } from '../artifacts/policy.js';
import { readCompiledManifest } from '../manifest/upgrade.js';
import { withBuiltinJobs } from '../model/builtin-jobs.js';
import type { Kysely } from 'kysely';
import type { Db } from '../store/db.js';
import type { Database, DeploymentsTable, WorkersTable } from '../store/schema.js';
import { ClockWatch } from './dispatch/clock-watch.js';
import type { Selectable } from 'kysely';

type DeploymentRow = Selectable<DeploymentsTable>;
type WorkerRow = Selectable<WorkersTable>;
import { KairosError } from '../model/errors.js';

export interface ControlEvents {
  /** A run changed state. */
  run: [{ id: string; state: string }];
  /** New log lines were stored for a run, up to `seq`. */
  logs: [{ runId: string; seq: number }];
  /** Runs may be claimable now (new, requeued, or capacity freed). */
  work: [];
  /** A running run was asked to cancel. */
  cancel: [{ runId: string }];
  /** Schedules changed (deploy, pause, resume): the scheduler should look again. */
  schedules: [];
  /** A pipeline run changed (a step created or skipped, or it ended): docs/pipelines.md. */
  pipeline: [{ id: string; state: string }];
  /** Pipeline runs were created elsewhere (scheduler, backfill): the pipeline driver should look. */
  pipelineWake: [];
}

export class Bus extends EventEmitter<ControlEvents> {
  constructor() {
    super();
    this.setMaxListeners(0);
  }
}

export interface ControlSettings {
  readonly dataDir: string;
  /** How long a lease lasts without a heartbeat. */
  readonly leaseMs: number;
  /**
   * Internal webhook hosts the server allows (`--allow-webhook-hosts`): a deploy whose webhook is internal
   * and not in this list is refused. Undefined: not checked at deploy (the engine used as a library).
   */
  readonly webhookAllowHosts?: readonly string[];
  /** Where artifacts are kept (`--artifacts`); default: a local directory under the data directory. */
  readonly artifactStore?: ArtifactStore;
  /** Per-run artifact limits; default DEFAULT_ARTIFACT_LIMITS. */
  readonly artifactLimits?: ArtifactLimits;
  /**
   * The team's container registry (`--registry [http://]HOST:PORT[/PREFIX]`), handed to workers with each
   * assignment whose environment is an image: built images are pushed there and pulled from there.
   */
  readonly registry?: string | null;
}

/**
 * How long a cached read of the active deployments or of the workers may be used. A change made through this
 * control plane clears it at once (a deploy, an activation, a registration); so does, on PostgreSQL, another
 * control plane's NOTIFY. The age bounds what neither reaches (a missed NOTIFY, another process writing the
 * same SQLite file) and the workers' heartbeats, which age a worker out of the live ones.
 */
const CACHE_MS = 1000;

/** A value read from the store, kept until `invalidate()` (or its time is up) — never one read across a change. */
export class ReadCache<T> {
  private value: { v: T; at: number } | null = null;
  private generation = 0;

  constructor(private readonly maxAgeMs: number) {}

  invalidate(): void {
    this.generation++;
    this.value = null;
  }

  /**
   * The cached value, or `read()` kept. Reads are not shared between callers: on SQLite a caller inside a
   * transaction reads through the transaction's handle, and waiting on a read queued behind it would deadlock.
   */
  async get(read: () => Promise<T>): Promise<T> {
    const now = Date.now();
    if (this.value && now - this.value.at < this.maxAgeMs) return this.value.v;
    const gen = this.generation;
    const v = await read();
    // A change that came in while the read ran may not be in it: use it this once, do not keep it.
    if (gen === this.generation) this.value = { v, at: now };
    return v;
  }
}

export class Ctx {
  private readonly manifests = new Map<string, CompiledManifest>();
  /** The active deployments, project by project: read per run created and per claim, changed only by a deploy. */
  readonly activeDeployments: ReadCache<readonly DeploymentRow[]>;
  /** Workers registered and not stopped, with their offers; changed by (un)registration, aged by heartbeats. */
  readonly workers: ReadCache<readonly WorkerRow[]>;

  constructor(
    readonly db: Db,
    readonly bus: Bus,
    readonly settings: ControlSettings,
    readonly random: () => number = Math.random,
  ) {
    this.activeDeployments = new ReadCache(CACHE_MS);
    // Heartbeats come every third of a lease and a worker is live for two: half a lease of age keeps that true.
    this.workers = new ReadCache(Math.min(CACHE_MS, Math.floor(settings.leaseMs / 2)));
    // A deploy, an activation, a pause or resume (here or, on PostgreSQL, on another control plane) says 'schedules'.
    bus.on('schedules', () => this.activeDeployments.invalidate());
  }

  /** The active deployments (cached; see activeDeployments). Inside a transaction pass its handle. */
  deployments(q: Kysely<Database> = this.db.kysely): Promise<readonly DeploymentRow[]> {
    return this.activeDeployments.get(() => q.selectFrom('deployments').selectAll().where('active', '=', 1).orderBy('project').execute());
  }

  /** Registered workers not stopped (cached for a second; a registration here clears it). */
  liveWorkerRows(q: Kysely<Database> = this.db.kysely): Promise<readonly WorkerRow[]> {
    return this.workers.get(() => q.selectFrom('workers').selectAll().where('stopped_at', 'is', null).execute());
  }

  private store: ArtifactStore | undefined;

  /** The artifact store (src/artifacts/store.ts). */
  get artifactStore(): ArtifactStore {
    this.store ??= this.settings.artifactStore ?? openArtifactStore({ dataDir: this.settings.dataDir });
    return this.store;
  }

  now(): number {
    return this.db.clock.now();
  }

  /** Watches the clock for stalls and steps between lease checks (src/control/dispatch/clock-watch.ts). */
  readonly clockWatch = new ClockWatch();

  /** The compiled manifest of a deployment (immutable, so cached forever). */
  async manifestOf(deploymentId: string, q: Kysely<Database> = this.db.kysely): Promise<CompiledManifest> {
    // Inside a transaction pass its handle: on SQLite the transaction holds the only connection.
    const cached = this.manifests.get(deploymentId);
    if (cached) return cached;
    const row = await q.selectFrom('deployments').select('manifest_json').where('id', '=', deploymentId).executeTakeFirst();
    if (!row) throw new KairosError('not_found', `deployment ${deploymentId} not found`);
    const manifest = withBuiltinJobs(readCompiledManifest(row.manifest_json));
    this.manifests.set(deploymentId, manifest);
    return manifest;
  }
}
