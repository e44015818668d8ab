/**
 * `GET /api/v1/doctor` (`kairos doctor`): is everything here right? The server and its database, each
 * worker (alive, place, clock, its place's own health), the registered `doctorChecks`, and the live matrix of
 * workers × the endpoints the jobs need, each worker asked to check them now (a probe in its heartbeat's answer).
 *
 * Extension point: a part of Kairos with something to check (the artifact store, the package index, a place's
 * controller seen from the server) registers a `DoctorCheck` with `registerDoctorCheck`; a worker's place
 * reports its own health (`placeHealth`, src/worker/place-health.ts) with its probe answer.
 */
import { sql } from 'kysely';
import type { Engine } from '../control/engine.js';
import { probesOf, type ProbeAnswer } from '../control/network.js';
import { ENDPOINT_RESULT_LABELS, type EndpointResult } from '../model/network.js';
import { VERSION } from '../version.js';
import type { DoctorCheckView, DoctorView } from './contract/index.js';
import { diskSpace } from './health.js';
import { iso } from './views.js';
import { offerView } from './dashboard-routes.js';

export interface DoctorCheckContext {
  readonly engine: Engine;
  /** The project asked about (`--project`), or null for all. */
  readonly project: string | null;
}

/** One entry of the doctor's list: a name and a function giving one verdict or more. */
export interface DoctorCheck {
  readonly name: string;
  run(c: DoctorCheckContext): Promise<DoctorCheckView | readonly DoctorCheckView[]>;
}

const doctorChecks: DoctorCheck[] = [];

/** A worker silent this long (and never stopped) is listed, but no longer counted as a problem. */
const FORGOTTEN_AFTER_MS = 24 * 60 * 60 * 1000;

/** Adds a check to every doctor from now on (a module registers its own at import). A name is registered once. */
export function registerDoctorCheck(check: DoctorCheck): void {
  const i = doctorChecks.findIndex((c) => c.name === check.name);
  if (i >= 0) doctorChecks[i] = check;
  else doctorChecks.push(check);
}

export function registeredDoctorChecks(): readonly DoctorCheck[] {
  return doctorChecks;
}

registerDoctorCheck({
  name: 'database',
  async run({ engine }) {
    const a = engine.db.availability;
    return { name: 'database', ok: !a.down, detail: a.down ? `not taking writes (${a.lastFailure ?? 'unknown'})` : null };
  },
});
registerDoctorCheck({
  name: 'artifact store',
  async run({ engine }) {
    const store = engine.ctx.artifactStore;
    try {
      await store.check();
      return { name: 'artifact store', ok: true, detail: store.describe };
    } catch (err) {
      return { name: 'artifact store', ok: false, detail: `${store.describe}: ${err instanceof Error ? err.message : String(err)}` };
    }
  },
});
registerDoctorCheck({
  name: 'package index',
  async run({ engine }) {
    try {
      const q = engine.db.kysely;
      const projects = await q.selectFrom('pypi_projects').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirst();
      const files = await q.selectFrom('pypi_files').select((e) => e.fn.countAll<number>().as('n')).where('deleted_at', 'is', null).executeTakeFirst();
      return { name: 'package index', ok: true, detail: `/simple/: ${Number(projects?.n ?? 0)} packages, ${Number(files?.n ?? 0)} files` };
    } catch (err) {
      return { name: 'package index', ok: false, detail: err instanceof Error ? err.message : String(err) };
    }
  },
});
registerDoctorCheck({
  name: 'disk',
  async run({ engine }) {
    const d = diskSpace(engine.ctx.settings.dataDir);
    if (!d) return { name: 'disk', ok: true, detail: 'free space not measurable' };
    return { name: 'disk', ok: !d.low, detail: `${Math.round(d.free_bytes / 2 ** 20)} MiB free of ${Math.round(d.total_bytes / 2 ** 20)} MiB (${d.path})` };
  },
});

async function databaseVersion(engine: Engine): Promise<string | null> {
  try {
    if (engine.db.dialect === 'postgres') {
      const r = await sql<{ v: string }>`show server_version`.execute(engine.db.kysely);
      return `PostgreSQL ${r.rows[0]?.v ?? '?'}`;
    }
    const r = await sql<{ v: string }>`select sqlite_version() as v`.execute(engine.db.kysely);
    return `SQLite ${r.rows[0]?.v ?? '?'}`;
  } catch {
    return null;
  }
}

/** Endpoints the active deployments' jobs need (of one project, or all), with the jobs needing each. */
async function neededEndpoints(engine: Engine, project: string | null): Promise<Map<string, { jobs: string[]; timeoutMs: number }>> {
  let q = engine.db.kysely.selectFrom('deployments').select(['id', 'project']).where('active', '=', 1);
  if (project !== null) q = q.where('project', '=', project);
  const out = new Map<string, { jobs: string[]; timeoutMs: number }>();
  for (const d of await q.execute()) {
    const m = await engine.ctx.manifestOf(d.id);
    for (const job of Object.values(m.jobs)) {
      for (const e of job.network.needs) {
        const entry = out.get(e) ?? { jobs: [], timeoutMs: 0 };
        entry.jobs.push(`${d.project}/${job.name}`);
        entry.timeoutMs = Math.max(entry.timeoutMs, job.network.timeoutMs);
        out.set(e, entry);
      }
    }
  }
  return out;
}

export async function doctorView(engine: Engine, project: string | null): Promise<DoctorView> {
  const problems: string[] = [];
  const db = engine.db.kysely;
  const leaseMs = engine.ctx.settings.leaseMs;
  const now = Date.now();
  const dbOffset = Math.round(engine.ctx.now() - now);

  const dbVersion = await databaseVersion(engine);
  const serverOk = dbVersion !== null;
  if (!serverOk) problems.push('the database does not answer');

  const checks: DoctorCheckView[] = [];
  for (const c of doctorChecks) {
    try {
      const r = await c.run({ engine, project });
      checks.push(...(Array.isArray(r) ? (r as readonly DoctorCheckView[]) : [r as DoctorCheckView]));
    } catch (err) {
      checks.push({ name: c.name, ok: false, detail: `the check failed: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  for (const c of checks) if (!c.ok) problems.push(`${c.name}: ${c.detail ?? 'not ok'}`);

  const needs = await neededEndpoints(engine, project);
  const endpoints = [...needs.keys()].sort();
  const timeoutMs = Math.max(1000, ...[...needs.values()].map((n) => n.timeoutMs));

  const rows = await db.selectFrom('workers').selectAll().where('stopped_at', 'is', null).orderBy('id').execute();
  const serverNow = engine.ctx.now();
  const alive = (w: (typeof rows)[number]) => Number(w.heartbeat_at) > serverNow - 2 * leaseMs;
  // Every live worker is asked at once; each answers with its next heartbeat (remote workers: about a second).
  const waitMs = Math.min(60_000, timeoutMs + Math.floor(leaseMs / 3) + 3000);
  const answers = new Map<string, ProbeAnswer | null>();
  await Promise.all(
    rows.filter(alive).map(async (w) => {
      answers.set(w.id, await probesOf(engine.ctx).ask(w.id, endpoints, timeoutMs, waitMs));
    }),
  );
  const remembered = endpoints.length === 0 ? [] : await db.selectFrom('worker_endpoints').selectAll().where('endpoint', 'in', endpoints).execute();

  const workers: DoctorView['workers'] = [];
  const matrix: DoctorView['network']['matrix'] = [];
  for (const w of rows) {
    const isAlive = alive(w);
    const a = answers.get(w.id) ?? null;
    const placeHealth = (a?.placeHealth ?? []).map((p) => ({ name: p.name, ok: p.ok, detail: p.detail }));
    const clock = a?.clockOffsetMs ?? null;
    let ok = isAlive && a !== null && placeHealth.every((p) => p.ok);
    // A worker gone for a day without saying goodbye is history, listed but no longer a problem.
    if (!isAlive && serverNow - Number(w.heartbeat_at) < FORGOTTEN_AFTER_MS) problems.push(`worker ${w.id} (${w.host}) is not alive: no heartbeat for ${Math.round((serverNow - Number(w.heartbeat_at)) / 1000)} s`);
    else if (a === null) problems.push(`worker ${w.id} (${w.host}) did not answer the probe within ${Math.round(waitMs / 1000)} s`);
    for (const p of placeHealth) if (!p.ok) problems.push(`worker ${w.id}: ${p.name}: ${p.detail ?? 'not ok'}`);
    if (clock !== null && Math.abs(clock) > 5000) {
      ok = false;
      problems.push(`worker ${w.id}: its clock is ${Math.round(clock / 1000)} s off the server's`);
    }
    for (const e of endpoints) {
      const live = a?.checks.find((c) => c.endpoint === e);
      const past = remembered.find((r) => r.worker_id === w.id && r.endpoint === e);
      const result = (live?.result ?? (past?.result as EndpointResult | undefined)) ?? null;
      matrix.push({
        worker: w.id,
        endpoint: e,
        result,
        label: result === null ? 'not checked' : ENDPOINT_RESULT_LABELS[result],
        latency_ms: live?.latencyMs ?? (past ? Number(past.latency_ms) : null),
        detail: live?.detail ?? past?.detail ?? null,
        live: live !== undefined,
        checked_at: iso(live?.checkedAt ?? (past ? Number(past.checked_at) : null)),
      });
      if (isAlive && result !== 'ok') {
        ok = false;
        problems.push(`worker ${w.id} → ${e}: ${result === null ? 'not checked' : ENDPOINT_RESULT_LABELS[result]}${live?.detail ? ` (${live.detail})` : ''}`);
      }
    }
    workers.push({
      id: w.id,
      host: w.host,
      pools: JSON.parse(w.pools_json) as string[],
      version: w.version,
      alive: isAlive,
      answered: a !== null,
      place: a?.place ?? w.place ?? null,
      offers: offerView(w.offer_json ?? null) ?? null,
      clock_offset_ms: clock,
      place_health: placeHealth,
      ok,
    });
  }
  if (rows.filter(alive).length === 0) problems.push('no live worker: nothing will run');

  return {
    ok: problems.length === 0,
    checked_at: new Date(now).toISOString(),
    project,
    server: { version: VERSION, dialect: engine.db.dialect, database_version: dbVersion, database_clock_offset_ms: dbOffset, ok: serverOk },
    checks,
    workers,
    network: { endpoints: endpoints.map((e) => ({ endpoint: e, jobs: needs.get(e)?.jobs ?? [] })), matrix },
    problems,
  };
}
