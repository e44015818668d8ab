/**
 * The control plane's side of network needs (docs/network.md): recording what workers report (each worker's
 * latest check of each endpoint, an attempt's preflight and what it waits for), the placement preference
 * claims ask for, and the live probes `kairos doctor` sends to workers with their heartbeats' answers.
 */
import { EventEmitter } from 'node:events';
import type { NetworkReport, PlaceHealth, Probe } from '../protocol/worker.js';
import type { EndpointCheck } from '../model/network.js';
import { newToken } from '../model/ids.js';
import type { Q, RunRow } from '../store/runs.js';
import { leaseHolder } from './dispatch/leases.js';
import type { Ctx } from './context.js';

/** Reports of checks older than this are not used to place runs. */
export const PLACEMENT_MEMORY_MS = 60 * 60 * 1000;

export async function recordNetwork(ctx: Ctx, workerId: string, report: NetworkReport): Promise<void> {
  const serverNow = Date.now();
  if (report.checks.length > 0 || report.lease) {
    await ctx.db.tx(async (trx) => {
      for (const c of report.checks) {
        const values = { result: c.result, latency_ms: c.latencyMs, detail: c.detail, checked_at: c.checkedAt };
        await trx
          .insertInto('worker_endpoints')
          .values({ worker_id: workerId, endpoint: c.endpoint, ...values })
          .onConflict((oc) => oc.columns(['worker_id', 'endpoint']).doUpdateSet(values))
          .execute();
      }
      if (!report.lease) return;
      const held = await leaseHolder(trx, report.lease, { lock: ctx.db.dialect === 'postgres' });
      if (!held) return;
      await trx
        .updateTable('attempts')
        .set({ network_json: JSON.stringify(report.checks), network_waiting: report.waiting ?? null })
        .where('run_id', '=', report.lease.runId)
        .where('number', '=', report.lease.attempt)
        .execute();
    });
    if (report.lease) ctx.bus.emit('run', { id: report.lease.runId, state: 'running' });
  }
  if (report.probe !== undefined) probesOf(ctx).answer(workerId, report, serverNow);
}

/**
 * Placement: should this worker leave the run to another? Yes when its own latest check of an endpoint the
 * run's job needs failed while another live worker of the run's pool has no failed check of them. The
 * preference never leaves a run without a taker: when every worker failed, any of them takes it (and its
 * `on_failure` decides).
 */
export async function preferAnotherWorker(ctx: Ctx, trx: Q, run: RunRow, workerId: string, now: number): Promise<boolean> {
  const needs = (await ctx.manifestOf(run.deployment_id, trx)).jobs[run.job]?.network.needs ?? [];
  if (needs.length === 0) return false;
  const rows = await trx
    .selectFrom('worker_endpoints')
    .select(['worker_id', 'result'])
    .where('endpoint', 'in', [...needs])
    .where('checked_at', '>', now - PLACEMENT_MEMORY_MS)
    .execute();
  const failing = new Set(rows.filter((r) => r.result !== 'ok').map((r) => r.worker_id));
  if (!failing.has(workerId)) return false;
  const live = await trx
    .selectFrom('workers')
    .select(['id', 'pools_json'])
    .where('stopped_at', 'is', null)
    .where('heartbeat_at', '>', now - ctx.settings.leaseMs)
    .where('id', '<>', workerId)
    .execute();
  return live.some((w) => !failing.has(w.id) && (JSON.parse(w.pools_json) as string[]).includes(run.pool));
}

// ---- live probes (kairos doctor) ----------------------------------------------------------------------------

export interface ProbeAnswer {
  readonly workerId: string;
  readonly checks: readonly EndpointCheck[];
  readonly placeHealth: readonly PlaceHealth[] | null;
  /** The worker's clock minus the server's, as of the answer (ms; null when the worker did not say). */
  readonly clockOffsetMs: number | null;
  readonly place: string | null;
}

interface Pending {
  readonly probe: Probe;
  readonly resolve: (a: ProbeAnswer) => void;
}

/** Probes waiting for a worker's next heartbeat, and the doctors waiting for their answers. In memory: one server. */
class ProbeBoard extends EventEmitter<{ queued: [workerId: string] }> {
  private readonly queued = new Map<string, Probe[]>();
  private readonly waiting = new Map<string, Pending>();

  /** Asks `workerId` to check `endpoints`; resolves with its answer, or null after `waitMs`. */
  ask(workerId: string, endpoints: readonly string[], timeoutMs: number, waitMs: number): Promise<ProbeAnswer | null> {
    const probe: Probe = { id: newToken().slice(0, 24), endpoints: [...endpoints], timeoutMs };
    this.queued.set(workerId, [...(this.queued.get(workerId) ?? []), probe]);
    // An in-process worker listens, and heartbeats at once to fetch it (remote ones heartbeat every second).
    this.emit('queued', workerId);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(probe.id);
        this.queued.set(workerId, (this.queued.get(workerId) ?? []).filter((p) => p.id !== probe.id));
        resolve(null);
      }, waitMs);
      this.waiting.set(probe.id, {
        probe,
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
      });
    });
  }

  /** The probes to hand `workerId` with its heartbeat's answer (each once). */
  take(workerId: string): Probe[] {
    const out = this.queued.get(workerId) ?? [];
    this.queued.delete(workerId);
    return out;
  }

  answer(workerId: string, report: NetworkReport, serverNow: number): void {
    const p = report.probe === undefined ? undefined : this.waiting.get(report.probe);
    if (!p) return;
    this.waiting.delete(p.probe.id);
    p.resolve({
      workerId,
      checks: report.checks,
      placeHealth: report.placeHealth ?? null,
      clockOffsetMs: report.now === undefined ? null : report.now - serverNow,
      place: report.place ?? null,
    });
  }
}

const boards = new WeakMap<Ctx, ProbeBoard>();
export function probesOf(ctx: Ctx): ProbeBoard {
  let b = boards.get(ctx);
  if (!b) boards.set(ctx, (b = new ProbeBoard()));
  return b;
}
