/** The typed client of the HTTP API: what the CLI (and later the dashboard) use. No state is written anywhere else. */
import * as http from 'node:http';
import * as https from 'node:https';
import type { RunView, LogLineView } from './views.js';
import type { SecretView } from '../control/secrets.js';
import type { AlertView } from './alerts.js';
import { backoffDelay, type Backoff } from '../model/retry.js';

/** Reconnecting a live log after a drop: 100 ms doubling to 2 s, spread ±20%. */
const RECONNECT_BACKOFF: Backoff = { baseMs: 100, factor: 2, maxMs: 2000, jitter: 0.4 };

export async function readBody(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** Turns a non-2xx answer into an ApiError (the body's stable code and message when it has them). */
export async function apiError(res: http.IncomingMessage, method: string, path: string): Promise<ApiError> {
  const status = res.statusCode ?? 0;
  let code = 'http_' + status;
  let message = `${method} ${path}: HTTP ${status}`;
  let details: unknown;
  try {
    const b = JSON.parse(await readBody(res)) as { error?: { code?: string; message?: string; details?: unknown } };
    if (b.error?.code) code = b.error.code;
    if (b.error?.message) message = b.error.message;
    details = b.error?.details;
  } catch {
    // not JSON
  }
  return new ApiError(status, code, message, details);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The server could not be reached at all. */
export class ConnectionError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`cannot reach the Kairos server at ${url} (${cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause)}); is \`kairos up\` running? (--server / KAIROS_SERVER)`);
    this.name = 'ConnectionError';
  }
}

export interface ScheduleView {
  project: string;
  job: string;
  cron: string;
  timezone: string;
  description: string | null;
  catchup: string;
  concurrency: string;
  paused: boolean;
  next_fire_at: string | null;
  last_tick_at: string | null;
  next: { at: string; local: string }[];
  /** Set when a change of the zone's UTC offset (daylight saving) falls within the previewed fire times. */
  dst_note: string | null;
  dst_changes: { at: string; offset_before: string; offset_after: string }[];
}

export interface TickView {
  instant: string;
  /** The instant in the schedule's zone. */
  local: string;
  outcome: string;
  reason: string | null;
  run_id: string | null;
  lateness_ms: number;
  recorded_at: string;
}

export interface BackfillView {
  project: string;
  job: string;
  timezone: string;
  concurrency: string;
  serial: boolean;
  dry_run: boolean;
  ticks: number;
  existing: number;
  planned: { scheduled_for: string; local: string }[];
  created: RunView[];
}

export interface WorkerView {
  id: string;
  host: string;
  pools: string[];
  capacity: number;
  version: string;
  alive: boolean;
  started_at: string | null;
  heartbeat_at: string | null;
}

export type StreamEvent = ({ type: 'line' } & LogLineView) | { type: 'end'; state: string; exit_code: number | null; reason: string | null; next_after: number };

export class KairosClient {
  readonly base: string;

  /**
   * `timeoutMs`: a request whose connection stays silent this long fails (as unreachable). Workers set it: a
   * request caught in a network cut would otherwise wait for TCP to give up, minutes later.
   */
  constructor(
    server: string,
    private readonly token: string | null = null,
    private readonly opts: { timeoutMs?: number } = {},
  ) {
    this.base = server.replace(/\/+$/, '');
    this.transport = this.base.startsWith('https:') ? https : http;
    // Idle kept-alive sockets are unref'd by the agent, so they never hold a process open.
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: 64 });
  }

  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { accept: 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  /** One HTTP exchange over a kept-alive connection (node:http: less overhead per call than fetch). */
  private async request(method: string, path: string, body?: unknown, signal?: AbortSignal, timeoutMs = this.opts.timeoutMs): Promise<http.IncomingMessage> {
    const url = new URL(this.base + path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = this.headers(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {});
    let res: http.IncomingMessage;
    try {
      res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = this.transport.request(url, { method, headers, agent: this.agent, signal }, resolve);
        req.on('error', reject);
        if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.end(payload);
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ConnectionError(this.base, err);
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await apiError(res, method, path);
    return res;
  }

  /** The body of an answer as JSON; a connection that breaks while it is read is a ConnectionError. */
  private async parse<T>(res: http.IncomingMessage): Promise<T> {
    let text: string;
    try {
      text = await readBody(res);
    } catch (err) {
      throw new ConnectionError(this.base, err);
    }
    return JSON.parse(text) as T;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.parse<T>(await this.request(method, path, body));
  }

  /** A JSON POST to any API path (the worker protocol uses this). */
  async post<T>(path: string, body: unknown, signal?: AbortSignal, timeoutMs?: number): Promise<T> {
    return this.parse<T>(await this.request('POST', path, body, signal, timeoutMs ?? this.opts.timeoutMs));
  }

  /** A GET whose body is read as a stream of bytes. */
  async getStream(path: string, signal?: AbortSignal): Promise<AsyncIterable<Buffer>> {
    return (await this.request('GET', path, undefined, signal)) as AsyncIterable<Buffer>;
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  health() {
    return this.json<{ ok: boolean; version: string; tzdata: string }>('GET', '/api/v1/health');
  }

  createRun(job: string, params: Record<string, unknown>, project?: string) {
    return this.json<RunView>('POST', '/api/v1/runs', { job, params, ...(project ? { project } : {}) });
  }

  getRun(id: string, waitSeconds = 0) {
    return this.json<RunView>('GET', `/api/v1/runs/${encodeURIComponent(id)}${waitSeconds > 0 ? `?wait=${waitSeconds}` : ''}`);
  }

  listRuns(q: { project?: string; job?: string; state?: string; trigger?: string; limit?: number; before?: string }) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') qs.set(k, String(v));
    return this.json<{ runs: RunView[]; next_before: string | null }>('GET', `/api/v1/runs?${qs}`);
  }

  listAlerts(q: { project?: string; job?: string; run?: string; state?: string; limit?: number }) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') qs.set(k, String(v));
    return this.json<{ alerts: AlertView[] }>('GET', `/api/v1/alerts?${qs}`);
  }

  /** The Prometheus exposition at /metrics, as text. */
  async metricsText(): Promise<string> {
    return readBody(await this.request('GET', '/metrics'));
  }

  cancelRun(id: string) {
    return this.json<RunView>('POST', `/api/v1/runs/${encodeURIComponent(id)}/cancel`);
  }

  rerun(id: string) {
    return this.json<RunView>('POST', `/api/v1/runs/${encodeURIComponent(id)}/rerun`);
  }

  attempts(id: string) {
    return this.json<{ attempts: Record<string, unknown>[] }>('GET', `/api/v1/runs/${encodeURIComponent(id)}/attempts`);
  }

  outputs(id: string) {
    return this.json<{ metrics: { attempt: number; name: string; value: number; step: number | null; ts: string }[]; artifacts: { attempt: number; path: string; size: number; sha256: string }[] }>(
      'GET',
      `/api/v1/runs/${encodeURIComponent(id)}/outputs`,
    );
  }

  logs(id: string, after = 0, limit = 5000) {
    return this.json<{ lines: LogLineView[]; next_after: number; state: string; more: boolean }>('GET', `/api/v1/runs/${encodeURIComponent(id)}/logs?after=${after}&limit=${limit}`);
  }

  /** Follows a run's log live from `after`, yielding lines then one `end` event; reconnects after a drop without gaps or duplicates. */
  async *followLogs(id: string, after = 0, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
    let cursor = after;
    let failures = 0;
    for (;;) {
      let res: http.IncomingMessage;
      try {
        res = await this.request('GET', `/api/v1/runs/${encodeURIComponent(id)}/logs/stream?after=${cursor}`, undefined, signal);
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

  schedules(project?: string) {
    return this.json<{ schedules: ScheduleView[] }>('GET', `/api/v1/schedules${project ? `?project=${encodeURIComponent(project)}` : ''}`);
  }

  ticks(project: string, job: string, limit = 100, range: { from?: string; to?: string } = {}) {
    const qs = new URLSearchParams({ limit: String(limit) });
    if (range.from) qs.set('from', range.from);
    if (range.to) qs.set('to', range.to);
    return this.json<{ ticks: TickView[] }>('GET', `/api/v1/schedules/${encodeURIComponent(project)}/${encodeURIComponent(job)}/ticks?${qs}`);
  }

  /** One run per tick of the job's schedule in [from, to] (ISO-8601); idempotent. */
  backfill(project: string, job: string, from: string, to: string, dryRun = false) {
    return this.json<BackfillView>('POST', `/api/v1/schedules/${encodeURIComponent(project)}/${encodeURIComponent(job)}/backfill`, { from, to, dry_run: dryRun });
  }

  pause(project: string, job: string) {
    return this.json<ScheduleView>('POST', `/api/v1/schedules/${encodeURIComponent(project)}/${encodeURIComponent(job)}/pause`);
  }

  resume(project: string, job: string) {
    return this.json<ScheduleView>('POST', `/api/v1/schedules/${encodeURIComponent(project)}/${encodeURIComponent(job)}/resume`);
  }

  jobs() {
    return this.json<{ jobs: { project: string; name: string; schedule: unknown }[] }>('GET', '/api/v1/jobs');
  }

  /** Sets a secret (the value travels in the body only). */
  setSecret(project: string, name: string, value: string) {
    return this.json<SecretView>('PUT', `/api/v1/secrets/${encodeURIComponent(project)}/${encodeURIComponent(name)}`, { value });
  }

  listSecrets(project?: string) {
    return this.json<{ secrets: SecretView[] }>('GET', `/api/v1/secrets${project ? `?project=${encodeURIComponent(project)}` : ''}`);
  }

  deleteSecret(project: string, name: string) {
    return this.json<{ deleted: boolean }>('DELETE', `/api/v1/secrets/${encodeURIComponent(project)}/${encodeURIComponent(name)}`);
  }

  deployments(project?: string) {
    return this.json<{ deployments: Record<string, unknown>[] }>('GET', `/api/v1/deployments${project ? `?project=${encodeURIComponent(project)}` : ''}`);
  }

  /** Secret names (never values) of a project, for `kairos check`. */
  async secretNames(project: string): Promise<{ name: string; project: string; updated_at: string | null }[]> {
    const body = await this.json<unknown>('GET', `/api/v1/secrets?project=${encodeURIComponent(project)}`);
    const list = Array.isArray(body) ? body : (body as { secrets?: unknown }).secrets;
    return Array.isArray(list) ? (list as { name: string; project: string; updated_at: string | null }[]) : [];
  }

  workers() {
    return this.json<{ workers: WorkerView[] }>('GET', '/api/v1/workers').then((b) => b.workers);
  }
}
