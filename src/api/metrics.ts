/**
 * GET /metrics: Prometheus text exposition (format 0.0.4), written by hand. Gauges are read from the store
 * at each scrape (so every replica reports the same runs, queue and workers); API latency is observed in
 * this process; tick lateness is read incrementally from the ledger (ticks recorded since the last scrape).
 */
import type { Context, Hono, MiddlewareHandler, Next } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Engine } from '../control/engine.js';
import { ALERT_STATES } from '../model/alerts.js';
import { RUN_STATE_LIST } from '../model/run-state.js';
import { API } from './contract/index.js';
import { input } from './input.js';

/** Seconds; the default buckets of Prometheus client libraries, which suit HTTP latency. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds; a tick decided within a second is on time, a minute late is worth a look. */
const LATENESS_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** A cumulative histogram, one series per label set. */
export class Histogram {
  private readonly series = new Map<string, { labels: Record<string, string>; counts: number[]; sum: number; count: number }>();
  constructor(readonly buckets: readonly number[]) {}

  observe(labels: Record<string, string>, value: number): void {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] ?? Infinity)) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
    s.count++;
  }

  write(out: Exposition, name: string): void {
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.sample(`${name}_bucket`, { ...s.labels, le: formatValue(b) }, s.counts[i] ?? 0));
      out.sample(`${name}_bucket`, { ...s.labels, le: '+Inf' }, s.count);
      out.sample(`${name}_sum`, s.labels, s.sum);
      out.sample(`${name}_count`, s.labels, s.count);
    }
  }
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Label values escape backslash, double quote and newline; HELP text escapes backslash and newline. */
function escapeLabel(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

/** The text being written. */
export class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: 'gauge' | 'counter' | 'histogram', help: string): void {
    this.lines.push(`# HELP ${name} ${help.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Record<string, string>, value: number): void {
    const entries = Object.entries(labels);
    const l = entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
    this.lines.push(`${name}${l} ${formatValue(value)}`);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

/** What this process observes between scrapes. */
export class ApiMetrics {
  readonly latency = new Histogram(LATENCY_BUCKETS);
  readonly lateness = new Histogram(LATENESS_BUCKETS);
  /** Ticks recorded up to this instant are in `lateness`. */
  private ticksUpTo: number;

  constructor(now: number) {
    // The histogram starts with the ticks of the last ten minutes, then follows the ledger.
    this.ticksUpTo = now - 600_000;
  }

  /** Times every request; `route` is the pattern that answered (`/api/v1/runs/:id`), never the raw path. */
  middleware(): MiddlewareHandler {
    return async (c: Context, next: Next) => {
      const start = process.hrtime.bigint();
      await next();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      // The route that matched the request, even when a middleware answered first (a 401); middlewares are `ALL`.
      const route = matchedRoutes(c).filter((r) => r.method !== 'ALL').at(-1)?.path ?? 'unmatched';
      this.latency.observe({ method: c.req.method, route, status: String(c.res.status) }, seconds);
    };
  }

  /** Adds the ticks recorded since the last scrape. The last two seconds are left for the next one: a batch's
   *  transaction stamps `recorded_at` when it starts and may commit a little later. */
  async readTicks(engine: Engine): Promise<void> {
    const upTo = engine.ctx.now() - 2000;
    if (upTo <= this.ticksUpTo) return;
    const rows = await engine.db.kysely
      .selectFrom('ticks')
      .select(['lateness_ms'])
      .where('recorded_at', '>', this.ticksUpTo)
      .where('recorded_at', '<=', upTo)
      .where('outcome', '!=', 'skipped')
      .execute();
    for (const r of rows) this.lateness.observe({}, Number(r.lateness_ms) / 1000);
    this.ticksUpTo = upTo;
  }
}

/** The whole exposition. One grouped query per family. */
export async function renderMetrics(engine: Engine, m: ApiMetrics): Promise<string> {
  const db = engine.db.kysely;
  const now = engine.ctx.now();
  const out = new Exposition();

  const byState = new Map((await db.selectFrom('runs').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('state').execute()).map((r) => [r.state, Number(r.n)]));
  out.family('kairos_runs', 'gauge', 'Runs by state.');
  for (const s of RUN_STATE_LIST) out.sample('kairos_runs', { state: s }, byState.get(s) ?? 0);

  const queued = await db.selectFrom('runs').select(['pool', (eb) => eb.fn.countAll<number>().as('n')]).where('state', '=', 'queued').groupBy('pool').execute();
  const due = new Map(
    (await db.selectFrom('runs').select(['pool', (eb) => eb.fn.countAll<number>().as('n')]).where('state', '=', 'queued').where('not_before', '<=', now).groupBy('pool').execute()).map((r) => [r.pool, Number(r.n)]),
  );
  // Every pool of the active deployments has a series, an empty queue included.
  const depth = new Map<string, number>();
  for (const d of await db.selectFrom('deployments').select('id').where('active', '=', 1).execute()) {
    for (const pool of Object.keys((await engine.ctx.manifestOf(d.id)).pools)) depth.set(pool, 0);
  }
  for (const r of queued) depth.set(r.pool, Number(r.n));
  const pools = [...depth.keys()].sort();
  out.family('kairos_queue_depth', 'gauge', 'Queued runs by pool, including retries waiting out their delay.');
  for (const pool of pools) out.sample('kairos_queue_depth', { pool }, depth.get(pool) ?? 0);
  out.family('kairos_queue_due', 'gauge', 'Queued runs by pool that could start now.');
  for (const pool of pools) out.sample('kairos_queue_due', { pool }, due.get(pool) ?? 0);

  await m.readTicks(engine);
  out.family('kairos_tick_lateness_seconds', 'histogram', 'How long after its instant each tick was decided (fired or late ticks recorded since this server started, and the ten minutes before).');
  m.lateness.write(out, 'kairos_tick_lateness_seconds');

  const workers = await db.selectFrom('workers').select(['id', 'heartbeat_at']).where('stopped_at', 'is', null).orderBy('id').execute();
  const leaseMs = engine.ctx.settings.leaseMs;
  out.family('kairos_worker_last_heartbeat_seconds', 'gauge', 'Unix time of the last heartbeat of each registered worker that has not stopped.');
  for (const w of workers) out.sample('kairos_worker_last_heartbeat_seconds', { worker: w.id }, Number(w.heartbeat_at) / 1000);
  out.family('kairos_workers_alive', 'gauge', 'Workers that heartbeated within one lease.');
  out.sample('kairos_workers_alive', {}, workers.filter((w) => now - Number(w.heartbeat_at) <= leaseMs).length);

  const alerts = new Map((await db.selectFrom('alerts').select(['state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('state').execute()).map((r) => [r.state, Number(r.n)]));
  out.family('kairos_alerts_delivered_total', 'counter', 'Alerts their webhook accepted.');
  out.sample('kairos_alerts_delivered_total', {}, alerts.get(ALERT_STATES.delivered) ?? 0);
  out.family('kairos_alerts_failed_total', 'counter', 'Alerts given up on (refused target, or every attempt failed).');
  out.sample('kairos_alerts_failed_total', {}, alerts.get(ALERT_STATES.failed) ?? 0);
  out.family('kairos_alerts_pending', 'gauge', 'Alerts waiting for their first or next delivery attempt.');
  out.sample('kairos_alerts_pending', {}, alerts.get(ALERT_STATES.pending) ?? 0);

  out.family('kairos_api_request_duration_seconds', 'histogram', 'API requests by method, route pattern and status: time until the response started.');
  m.latency.write(out, 'kairos_api_request_duration_seconds');
  return out.text();
}

export function registerMetricsRoute(app: Hono, engine: Engine, m: ApiMetrics): void {
  app.get(API.ops.metrics.path, async (c) => {
    await input(c, API.ops.metrics);
    const text = await renderMetrics(engine, m);
    return c.body(text, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
  });
}
