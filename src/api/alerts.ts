/** GET /api/v1/alerts: the alerts outbox, newest first, with each alert's delivery state. */
import type { Hono } from 'hono';
import type { Selectable } from 'kysely';
import type { Engine } from '../control/engine.js';
import { targetOrigin } from '../control/webhooks.js';
import { ALERT_STATES, type AlertPayload } from '../model/alerts.js';
import type { AlertsTable } from '../store/schema.js';
import { iso } from './views.js';
import { API, type AlertViewBody } from './contract/index.js';
import { input } from './input.js';

/** An alert as the API shows it (the contract's shape), with its payload typed. */
export type AlertView = Omit<AlertViewBody, 'payload'> & { payload: AlertPayload };

export function alertView(a: Selectable<AlertsTable>): AlertView {
  return {
    id: a.id,
    project: a.project,
    job: a.job,
    run_id: a.run_id,
    rule: a.rule,
    kind: a.kind as AlertView['kind'],
    format: a.format,
    target: targetOrigin(a.target),
    state: a.state as AlertView['state'],
    attempts: a.attempts,
    next_attempt_at: a.state === ALERT_STATES.pending ? iso(a.next_attempt_at) : null,
    last_error: a.last_error,
    created_at: iso(a.created_at),
    delivered_at: iso(a.delivered_at),
    payload: JSON.parse(a.payload_json) as AlertPayload,
  };
}

export function registerAlertRoutes(app: Hono, engine: Engine): void {
  const db = engine.db.kysely;
  app.get(API.ops.alerts.path, async (c) => {
    const { query } = await input(c, API.ops.alerts);
    let q = db.selectFrom('alerts').selectAll();
    if (query.project) q = q.where('project', '=', query.project);
    if (query.job) q = q.where('job', '=', query.job);
    if (query.run) q = q.where('run_id', '=', query.run);
    if (query.state) q = q.where('state', 'in', query.state);
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit ?? 50).execute();
    return c.json({ alerts: rows.map(alertView) });
  });
}
