/**
 * Network needs over HTTP (docs/network.md): a worker's report of its checks, `GET /api/v1/doctor`, and
 * the run view's `network` and `waiting_reason` (the preflight of the run's latest attempt).
 */
import type { Hono } from 'hono';
import type { Engine } from '../control/engine.js';
import type { EndpointCheck } from '../model/network.js';
import type { Q } from '../store/runs.js';
import { API } from './contract/index.js';
import { doctorView } from './doctor.js';
import { input } from './input.js';
import { listingProject } from './auth.js';
import type { RunView } from './views.js';

export function registerNetworkRoutes(app: Hono, engine: Engine): void {
  const N = API.network;
  app.post(N.report.path, async (c) => {
    const { params, body } = await input(c, N.report);
    await engine.reportNetwork(params.id, body);
    return c.json({ ok: true as const });
  });
  app.get(N.doctor.path, async (c) => {
    const { query } = await input(c, N.doctor);
    // A project-limited token sees its own project's needs only (another project's look like a project without any).
    const project = listingProject(c, query.project);
    if (project === false) return c.json({ ...(await doctorView(engine, '\u0000none')), project: query.project ?? null });
    return c.json(await doctorView(engine, project ?? null));
  });
}

/** The preflight checks of the run's latest attempt, and what it waits for (null: nothing). */
export async function withNetwork(db: Q, view: RunView): Promise<RunView> {
  const a = await db
    .selectFrom('attempts')
    .select(['network_json', 'network_waiting', 'state'])
    .where('run_id', '=', view.id)
    .orderBy('number', 'desc')
    .limit(1)
    .executeTakeFirst();
  const network = a?.network_json ? (JSON.parse(a.network_json) as EndpointCheck[]) : null;
  // A queued run keeps the placement's reason (withWaitingReasons); a running one says what its worker waits for.
  const waiting = a?.state === 'running' ? (a.network_waiting ?? null) : null;
  return { ...view, network, waiting_reason: waiting ?? (view.state === 'queued' ? (view.waiting_reason ?? null) : null) };
}
