/**
 * The control plane as a remote worker sees it: the worker protocol over HTTP (src/api/worker-routes.ts).
 * Cancels arrive with heartbeats, so remote workers heartbeat about once a second.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { ResolvedInput } from '../model/inputs.js';
import { ApiError, KairosClient } from '../api/client.js';
import { bundleDir } from '../bundle/bundle.js';
import { receiveBundle } from '../bundle/stream.js';
import { KairosError } from '../model/errors.js';
import type { AbandonCode, Artifact, ArtifactsWanted, Assignment, AttemptResult, ControlLink, HeartbeatReply, LeaseRef, LogLine, NetworkReport, NextClaim, StartedInfo, WorkerInfo } from '../protocol/worker.js';
import { API } from '../api/contract/index.js';

const W = API.workers;

/**
 * Errors that crossed the network are classified by code: a stale lease is the worker's business, and so is
 * a database that is unavailable for a while (503): the server is there, its leases are extended once the
 * database is back, so the worker keeps its jobs running and sends again.
 */
function classify(err: unknown): never {
  if (err instanceof ApiError && err.code === 'stale_lease') throw new KairosError('stale_lease', err.message);
  if (err instanceof ApiError && err.code === 'unavailable') throw new KairosError('unavailable', err.message, err.details);
  throw err;
}

/**
 * A report that gets no answer this long is given up and retried on a new connection: after a network cut,
 * a request sent into it would otherwise wait for TCP to time out.
 */
const REQUEST_TIMEOUT_MS = 10_000;

export class HttpControlLink implements ControlLink {
  private readonly client: KairosClient;
  private readonly cancelListeners = new Set<(runId: string) => void>();
  private readonly downloads = new Map<string, Promise<void>>();

  constructor(server: string, token: string | null) {
    this.client = new KairosClient(server, token, { timeoutMs: REQUEST_TIMEOUT_MS });
  }

  /** Checks the server is there and learns its lease length. */
  async health(): Promise<{ leaseMs: number }> {
    const h = await this.client.health();
    return { leaseMs: h.lease_ms ?? 30_000 };
  }

  async registerWorker(info: WorkerInfo): Promise<void> {
    await this.client.call(W.register, { body: info });
  }

  async recoverWorker(workerId: string) {
    return (await this.client.call(W.recover, { params: { id: workerId }, body: {} })).attempts;
  }

  /** Long polling: the server answers as soon as a run is there for us, or after `waitMs` with nothing. */
  async claim(workerId: string, pools: readonly string[], max: number, opts: { waitMs?: number; signal?: AbortSignal } = {}): Promise<Assignment[]> {
    const waitMs = opts.waitMs ?? 0;
    return (await this.client.call(W.claim, { params: { id: workerId }, body: { pools, max, wait_ms: waitMs }, signal: opts.signal, timeoutMs: waitMs + REQUEST_TIMEOUT_MS }).catch(classify)).assignments;
  }

  async started(lease: LeaseRef, info: StartedInfo): Promise<void> {
    await this.client.call(W.started, { body: { lease, info } }).catch(classify);
  }

  async heartbeat(workerId: string, leases: readonly LeaseRef[]): Promise<HeartbeatReply> {
    const reply = await this.client.call(W.heartbeat, { params: { id: workerId }, body: { leases } }).catch(classify);
    for (const runId of reply.cancel) for (const l of this.cancelListeners) l(runId);
    return reply;
  }

  async appendLogs(lease: LeaseRef, lines: readonly LogLine[]): Promise<void> {
    await this.client.call(W.logs, { body: { lease, lines } }).catch(classify);
  }

  async appendLogsMany(items: readonly { lease: LeaseRef; lines: readonly LogLine[] }[]): Promise<{ stale: readonly LeaseRef[] }> {
    return this.client.call(W.logsMany, { body: { items } }).catch(classify);
  }

  async finish(lease: LeaseRef, result: AttemptResult, next?: NextClaim): Promise<Assignment[]> {
    return (await this.client.call(W.finish, { body: { lease, result, ...(next ? { next } : {}) } }).catch(classify)).assignments;
  }

  async artifactsWanted(lease: LeaseRef, artifacts: readonly Artifact[]): Promise<ArtifactsWanted> {
    return this.client.call(API.artifacts.wanted, { body: { lease, artifacts } }).catch(classify);
  }

  async uploadArtifact(lease: LeaseRef, artifact: Artifact, file: string): Promise<void> {
    await this.client.uploadArtifact(lease, artifact, createReadStream(file)).catch(classify);
  }

  async abandon(lease: LeaseRef, reason: string, reasonCode?: AbandonCode): Promise<void> {
    await this.client.call(W.abandon, { body: { lease, reason, ...(reasonCode ? { reason_code: reasonCode } : {}) } }).catch(classify);
  }

  /** The claim itself long-polls, so there is nothing to wait for here: claim again at once. */
  async waitForWork(_pools: readonly string[], since: number): Promise<number> {
    return since + 1;
  }

  onCancel(listener: (runId: string) => void): () => void {
    this.cancelListeners.add(listener);
    return () => this.cancelListeners.delete(listener);
  }

  async unregisterWorker(workerId: string): Promise<void> {
    await this.client.call(W.stop, { params: { id: workerId }, body: {} });
  }

  async reportNetwork(workerId: string, report: NetworkReport): Promise<void> {
    await this.client.call(API.network.report, { params: { id: workerId }, body: report }).catch(classify);
  }

  /** Downloads a bundle into the worker's cache unless it is there already (one download per hash at a time). */
  ensureBundle(dataDir: string, hash: string): Promise<void> {
    const dest = bundleDir(dataDir, hash);
    let p = this.downloads.get(hash);
    if (!p) {
      p = stat(dest).then(
        () => undefined,
        async () => {
          await receiveBundle(await this.client.stream(W.bundle, { params: { hash } }), dataDir, hash);
        },
      );
      this.downloads.set(hash, p);
      p.catch(() => this.downloads.delete(hash));
    }
    return p;
  }

  async resolveInputs(lease: LeaseRef): Promise<readonly ResolvedInput[]> {
    return (await this.client.call(API.snapshots.resolveInputs, { body: { lease } }).catch(classify)).inputs;
  }

  async fetchBlob(sha256: string): Promise<Readable> {
    return this.client.stream(API.snapshots.getBlob, { params: { hash: sha256 }, timeoutMs: 60_000 });
  }

  close(): void {
    this.client.close();
  }
}
