/** What the control plane's parts share: the store, the event bus, and settings. */
import { EventEmitter } from 'node:events';
import type { CompiledManifest } from '../model/job.js';
import { openArtifactStore, type ArtifactStore } from '../artifacts/store.js';
import type { ArtifactLimits } from '../artifacts/policy.js';
import { readCompiledManifest } from '../manifest/upgrade.js';
import { withBuiltinJobs } from '../model/builtin-jobs.js';
import type { Kysely } from 'kysely';
import type { Db } from '../store/db.js';
import type { Database } from '../store/schema.js';
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
}

export class Ctx {
  private readonly manifests = new Map<string, CompiledManifest>();

  constructor(
    readonly db: Db,
    readonly bus: Bus,
    readonly settings: ControlSettings,
    readonly random: () => number = Math.random,
  ) {}

  private store: ArtifactStore | undefined;

  /** The artifact store (src/artifacts/store.ts). */
  get artifactStore(): ArtifactStore {
    this.store ??= this.settings.artifactStore ?? openArtifactStore({ dataDir: this.settings.dataDir });
    return this.store;
  }

  now(): number {
    return this.db.clock.now();
  }

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
