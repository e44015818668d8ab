/**
 * The control plane as a remote worker sees it: the worker protocol over HTTP (src/api/worker-routes.ts).
 * Cancels arrive with heartbeats, so remote workers heartbeat about once a second.
 */
import { stat } from 'node:fs/promises';
import { ApiError, KairosClient } from '../api/client.js';
import { bundleDir } from '../control/bundle.js';
import { receiveBundle } from '../control/bundle-stream.js';
import { KairosError } from '../model/errors.js';
import type { AbandonCode, Assignment, AttemptResult, ControlLink, HeartbeatReply, LeaseRef, LogLine, StartedInfo, WorkerInfo } from './protocol.js';

/** Errors that crossed the network are classified by code: a stale lease is the worker's business. */
function classify(err: unknown): never {
  if (err instanceof ApiError && err.code === 'stale_lease') throw new KairosError('stale_lease', err.message);
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
    return { leaseMs: (h as { lease_ms?: number }).lease_ms ?? 30_000 };
  }

  async registerWorker(info: WorkerInfo): Promise<void> {
    await this.client.post('/api/v1/workers', info);
  }

  async recoverWorker(workerId: string) {
    return (await this.client.post<{ attempts: { lease: LeaseRef; pid: number | null; procStart: string | null }[] }>(`/api/v1/workers/${encodeURIComponent(workerId)}/recover`, {})).attempts;
  }

  /** Long polling: the server answers as soon as a run is there for us, or after `waitMs` with nothing. */
  async claim(workerId: string, pools: readonly string[], max: number, opts: { waitMs?: number; signal?: AbortSignal } = {}): Promise<Assignment[]> {
    const path = `/api/v1/workers/${encodeURIComponent(workerId)}/claim`;
    return (await this.client.post<{ assignments: Assignment[] }>(path, { pools, max, wait_ms: opts.waitMs ?? 0 }, opts.signal, (opts.waitMs ?? 0) + REQUEST_TIMEOUT_MS)).assignments;
  }

  async started(lease: LeaseRef, info: StartedInfo): Promise<void> {
    await this.client.post('/api/v1/leases/started', { lease, info }).catch(classify);
  }

  async heartbeat(workerId: string, leases: readonly LeaseRef[]): Promise<HeartbeatReply> {
    const reply = await this.client.post<HeartbeatReply>(`/api/v1/workers/${encodeURIComponent(workerId)}/heartbeat`, { leases });
    for (const runId of reply.cancel) for (const l of this.cancelListeners) l(runId);
    return reply;
  }

  async appendLogs(lease: LeaseRef, lines: readonly LogLine[]): Promise<void> {
    await this.client.post('/api/v1/leases/logs', { lease, lines }).catch(classify);
  }

  async appendLogsMany(items: readonly { lease: LeaseRef; lines: readonly LogLine[] }[]): Promise<{ stale: readonly LeaseRef[] }> {
    return this.client.post<{ stale: LeaseRef[] }>('/api/v1/leases/logs-many', { items });
  }

  async finish(lease: LeaseRef, result: AttemptResult, next?: { workerId: string; pools: readonly string[]; max: number }): Promise<Assignment[]> {
    return (await this.client.post<{ assignments: Assignment[] }>('/api/v1/leases/finish', { lease, result, next }).catch(classify)).assignments;
  }

  async abandon(lease: LeaseRef, reason: string, reasonCode?: AbandonCode): Promise<void> {
    await this.client.post('/api/v1/leases/abandon', { lease, reason, ...(reasonCode ? { reason_code: reasonCode } : {}) }).catch(classify);
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
    await this.client.post(`/api/v1/workers/${encodeURIComponent(workerId)}/stop`, {});
  }

  /** Downloads a bundle into the worker's cache unless it is there already (one download per hash at a time). */
  ensureBundle(dataDir: string, hash: string): Promise<void> {
    const dest = bundleDir(dataDir, hash);
    let p = this.downloads.get(hash);
    if (!p) {
      p = stat(dest).then(
        () => undefined,
        async () => {
          await receiveBundle(await this.client.getStream(`/api/v1/bundles/${hash}`), dataDir, hash);
        },
      );
      this.downloads.set(hash, p);
      p.catch(() => this.downloads.delete(hash));
    }
    return p;
  }

  close(): void {
    this.client.close();
  }
}
