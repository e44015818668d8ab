/**
 * The one typed client of the HTTP API: what the CLI, the remote worker's link (src/worker/http-link.ts) and
 * the tests use. Every call goes through `call(route, …)` with a route of the contract (src/api/contract/),
 * so its path, body and answer are typed by the same schemas the server validates with. No state is
 * written anywhere else.
 */
import type * as http from 'node:http';
import type { z } from 'zod';
import type { DeepReadonly } from '../protocol/worker.js';
import { API, type Answer, type RouteSpec } from './contract/index.js';
import { ApiError, ConnectionError, Transport, readBody } from './client-transport.js';
import { backoffDelay, type Backoff } from '../model/retry.js';

/** Reconnecting a live log after a drop: 100 ms doubling to 2 s, spread ±20%. */
const RECONNECT_BACKOFF: Backoff = { baseMs: 100, factor: 2, maxMs: 2000, jitter: 0.4 };

export { ApiError, ConnectionError, apiError, readBody } from './client-transport.js';
export type {
  ArtifactView,
  JobView as JobListing,
  AlertViewBody as AlertView,
  BackfillView,
  DeploymentView,
  LogLineView,
  RunView,
  ScheduleView,
  SecretView,
  StreamEvent,
  TickView,
  TokenView,
  WorkerView,
} from './contract/index.js';
import type { StreamEvent } from './contract/index.js';

type Scalar = string | number | boolean;
export interface CallArgs<R extends RouteSpec> {
  readonly params?: Readonly<Record<string, Scalar>>;
  readonly query?: Readonly<Record<string, Scalar | null | undefined>>;
  readonly body?: R['body'] extends z.ZodType ? DeepReadonly<z.input<R['body']>> : never;
  readonly signal?: AbortSignal;
  /** A request whose connection stays silent this long fails (as unreachable). */
  readonly timeoutMs?: number;
}

/** A route's path with its parameters filled in and the query appended (empty values left out). */
export function pathOf(r: RouteSpec, params: Readonly<Record<string, Scalar>> = {}, query: Readonly<Record<string, Scalar | null | undefined>> = {}): string {
  const path = r.path.replace(/:([A-Za-z_]+)(\{[^}]*\})?/g, (_, k: string, pattern?: string) => {
    const v = params[k];
    if (v === undefined) throw new Error(`${r.path}: path parameter "${k}" is missing`);
    // A parameter that spans segments (`:path{.+}`, an artifact's path) keeps its slashes.
    return pattern ? String(v).split('/').map(encodeURIComponent).join('/') : encodeURIComponent(String(v));
  });
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const q = qs.toString();
  return q ? `${path}?${q}` : path;
}

export class KairosClient {
  private readonly http: Transport;

  /**
   * `timeoutMs`: a request whose connection stays silent this long fails (as unreachable). Workers set it: a
   * request caught in a network cut would otherwise wait for TCP to give up, minutes later.
   */
  constructor(server: string, token: string | null = null, opts: { timeoutMs?: number } = {}) {
    this.http = new Transport(server, token, opts.timeoutMs);
  }

  get base(): string {
    return this.http.base;
  }

  /** One route of the contract: its answer as the route's schema says. */
  async call<R extends RouteSpec>(r: R, args: CallArgs<R> = {}): Promise<Answer<R>> {
    const res = await this.http.request(r.method.toUpperCase(), pathOf(r, args.params, args.query), args.body, args.signal, args.timeoutMs);
    return this.http.parse<Answer<R>>(res);
  }

  /** A route whose answer is a stream of bytes (the bundle, the plain-text log). */
  async stream<R extends RouteSpec>(r: R, args: CallArgs<R> = {}): Promise<http.IncomingMessage> {
    return this.http.request(r.method.toUpperCase(), pathOf(r, args.params, args.query), undefined, args.signal, args.timeoutMs);
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.http.close();
  }

  health() {
    return this.call(API.ops.health);
  }

  whoami() {
    return this.call(API.access.whoami);
  }

  /** `over`: resources and pool for this run alone (`kairos run --cpu/--memory/--gpu/--pool`). */
  createRun(job: string, params: Record<string, unknown>, project?: string, over: { cpu?: number; memory_bytes?: number; gpu?: number; pool?: string } = {}) {
    return this.call(API.runs.create, { body: { job, params, ...(project ? { project } : {}), ...over } });
  }

  getRun(id: string, waitSeconds = 0) {
    return this.call(API.runs.get, { params: { id }, query: { wait: waitSeconds > 0 ? waitSeconds : undefined } });
  }

  listRuns(q: { project?: string; job?: string; state?: string; trigger?: string; limit?: number; before?: string; since?: string; until?: string }) {
    return this.call(API.runs.list, { query: q });
  }

  listAlerts(q: { project?: string; job?: string; run?: string; state?: string; limit?: number }) {
    return this.call(API.ops.alerts, { query: q });
  }

  /** The Prometheus exposition at /metrics, as text. */
  async metricsText(): Promise<string> {
    return readBody(await this.stream(API.ops.metrics));
  }

  cancelRun(id: string) {
    return this.call(API.runs.cancel, { params: { id } });
  }

  rerun(id: string) {
    return this.call(API.runs.rerun, { params: { id } });
  }

  attempts(id: string) {
    return this.call(API.runs.attempts, { params: { id } });
  }

  outputs(id: string) {
    return this.call(API.runs.outputs, { params: { id } });
  }

  logs(id: string, after = 0, limit = 5000) {
    return this.call(API.runs.logs, { params: { id }, query: { after, limit } });
  }

  /** Follows a run's log live from `after`, yielding lines then one `end` event; reconnects after a drop without gaps or duplicates. */
  async *followLogs(id: string, after = 0, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
    let cursor = after;
    let failures = 0;
    for (;;) {
      let res: http.IncomingMessage;
      try {
        res = await this.stream(API.runs.logsStream, { params: { id }, query: { after: cursor }, signal });
      } catch (err) {
        if (err instanceof ConnectionError && failures < 30 && !signal?.aborted) {
          failures++;
          await new Promise((r) => setTimeout(r, backoffDelay(RECONNECT_BACKOFF, failures, Math.random())));
          continue;
        }
        throw err;
      }
      failures = 0;
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          buf += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const text = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (!text) continue;
            const ev = JSON.parse(text) as StreamEvent;
            if (ev.type === 'line') cursor = ev.seq;
            yield ev;
            if (ev.type === 'end') return;
          }
        }
      } catch (err) {
        if (signal?.aborted) throw err;
        // connection dropped mid-stream: resume from the last line we yielded
      }
    }
  }

  // ── pipelines (docs/pipelines.md) ──
  pipelines(project?: string) {
    return this.call(API.pipelines.list, { query: { project } });
  }

  startPipeline(project: string, pipeline: string, params: Record<string, unknown>) {
    return this.call(API.pipelines.start, { params: { project, pipeline }, body: { params } });
  }

  pipelineRuns(q: { project?: string; pipeline?: string; state?: string; limit?: number }) {
    return this.call(API.pipelines.runs, { query: q });
  }

  pipelineRun(id: string) {
    return this.call(API.pipelines.get, { params: { id } });
  }

  cancelPipelineRun(id: string) {
    return this.call(API.pipelines.cancel, { params: { id } });
  }

  rerunPipelineFromFailed(id: string) {
    return this.call(API.pipelines.rerun, { params: { id }, body: { from_failed: true } });
  }

  backfillPipeline(project: string, pipeline: string, from: string, to: string, dryRun = false) {
    return this.call(API.pipelines.backfill, { params: { project, pipeline }, body: { from, to, dry_run: dryRun } });
  }

  schedules(project?: string) {
    return this.call(API.schedules.list, { query: { project } });
  }

  ticks(project: string, job: string, limit = 100, range: { from?: string; to?: string } = {}) {
    return this.call(API.schedules.ticks, { params: { project, job }, query: { limit, ...range } });
  }

  /** One run per tick of the job's schedule in [from, to] (ISO-8601); idempotent. */
  backfill(project: string, job: string, from: string, to: string, dryRun = false) {
    return this.call(API.schedules.backfill, { params: { project, job }, body: { from, to, dry_run: dryRun } });
  }

  pause(project: string, job: string) {
    return this.call(API.schedules.pause, { params: { project, job } });
  }

  resume(project: string, job: string) {
    return this.call(API.schedules.resume, { params: { project, job } });
  }

  /** Jobs of the active deployments (of `project` when given), with their params, pool, resources and environment. */
  jobs(project?: string) {
    return this.call(API.deployments.jobs, { query: { project } });
  }

  /** Sets a secret (the value travels in the body only). */
  setSecret(project: string, name: string, value: string) {
    return this.call(API.access.setSecret, { params: { project, name }, body: { value } });
  }

  listSecrets(project?: string) {
    return this.call(API.access.listSecrets, { query: { project } });
  }

  deleteSecret(project: string, name: string) {
    return this.call(API.access.deleteSecret, { params: { project, name } });
  }

  /** Secret names (never values) of a project, for `kairos check`. */
  async secretNames(project: string) {
    return (await this.listSecrets(project)).secrets;
  }

  /** Names of the secrets set for `project` for a deploy's plan; `null` with the reason when they cannot be checked. */
  async secretNamesForPlan(project: string): Promise<{ names: string[] } | { names: null; reason: string }> {
    try {
      return { names: (await this.secretNames(project)).map((s) => s.name) };
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return { names: null, reason: 'this server has no secrets API' };
      if (err instanceof ApiError && (err.status === 403 || err.status === 401)) return { names: null, reason: `not allowed to list secrets (${err.message})` };
      throw err;
    }
  }

  deployments(project?: string) {
    return this.call(API.deployments.list, { query: { project } });
  }

  /** The active version of `project` with its compiled manifest, or null when it has none. */
  async active(project: string) {
    try {
      return await this.call(API.deployments.active, { params: { project } });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }

  activate(project: string, version: number) {
    return this.call(API.deployments.activate, { params: { project, version } });
  }

  /** Deploys a bundle stream (`query`: hash, and commit, dirty, source when known). */
  upload(query: { hash: string; commit?: string; dirty?: string; source?: string }, body: AsyncIterable<Buffer>) {
    const r = API.deployments.upload;
    return this.http.upload<Answer<typeof r>>(pathOf(r, {}, query), r.rawBody.contentType, body);
  }

  /** Of these blobs (SHA-256s), the ones the server lacks. */
  async missingBlobs(blobs: readonly string[]): Promise<string[]> {
    return (await this.call(API.snapshots.missing, { body: { blobs: [...blobs] } })).missing;
  }

  /** Uploads one blob; the server refuses bytes that do not hash to `sha256`. */
  uploadBlob(sha256: string, body: AsyncIterable<Buffer>) {
    const r = API.snapshots.putBlob;
    return this.http.upload<Answer<typeof r>>(pathOf(r, { hash: sha256 }, {}), r.rawBody.contentType, body);
  }

  commitSnapshot(name: string, body: { project?: string; kind: 'file' | 'dir'; files: { path: string; sha256: string; size: number }[] }) {
    return this.call(API.snapshots.commit, { params: { name }, body });
  }

  snapshots(query: { project?: string; name?: string } = {}) {
    return this.call(API.snapshots.list, { query });
  }

  runInputs(id: string) {
    return this.call(API.snapshots.runInputs, { params: { id } });
  }

  /** A run's artifacts (`attempt`: only that attempt's). */
  artifacts(id: string, attempt?: number) {
    return this.call(API.artifacts.list, { params: { id }, query: attempt === undefined ? {} : { attempt: String(attempt) } });
  }

  /** One artifact's bytes as a stream (the answer's headers carry its type and length). */
  downloadArtifact(id: string, path: string, attempt?: number) {
    return this.stream(API.artifacts.download, { params: { id, path }, query: attempt === undefined ? {} : { attempt: String(attempt) } });
  }

  /** Sends one artifact's bytes for the attempt `lease` holds (worker scope). */
  uploadArtifact(lease: { runId: string; attempt: number; token: string }, blob: { sha256: string; size: number }, body: AsyncIterable<Buffer>) {
    const r = API.artifacts.upload;
    return this.http.upload<Answer<typeof r>>(pathOf(r, { hash: blob.sha256 }, { run: lease.runId, attempt: lease.attempt, lease: lease.token, size: blob.size }), r.rawBody.contentType, body);
  }

  createToken(name: string, scope: string, project: string | null, packages: string | null = null) {
    return this.call(API.access.createToken, { body: { name, scope, project, ...(packages !== null ? { packages } : {}) } });
  }

  listTokens() {
    return this.call(API.access.listTokens);
  }

  revokeToken(name: string) {
    return this.call(API.access.revokeToken, { params: { name } });
  }

  packages() {
    return this.call(API.packages.list);
  }

  package(name: string) {
    return this.call(API.packages.get, { params: { name } });
  }

  yank(name: string, version: string, reason: string | null) {
    return this.call(API.packages.yank, { params: { name, version }, body: reason === null ? {} : { reason } });
  }

  unyank(name: string, version: string) {
    return this.call(API.packages.unyank, { params: { name, version } });
  }

  async workers() {
    return (await this.call(API.ops.workers)).workers;
  }
}
