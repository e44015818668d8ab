/** GET /api/v1/alerts: the alerts outbox, newest first, with each alert's delivery state. */
import type { Context, Hono } from 'hono';
import type { Selectable } from 'kysely';
import type { Engine } from '../control/engine.js';
import { targetOrigin } from '../control/webhooks.js';
import { ALERT_STATE_LIST, ALERT_STATES, type AlertPayload } from '../model/alerts.js';
import { KairosError } from '../model/errors.js';
import type { AlertsTable } from '../store/schema.js';
import { iso } from './views.js';

export interface AlertView {
  id: string;
  project: string;
  job: string;
  run_id: string;
  /** Where the rule was written in kairos.yaml, e.g. `jobs.train.notify[0]`. */
  rule: string;
  kind: string;
  format: string;
  /** The webhook's origin only: its path and query often hold a secret. */
  target: string;
  state: string;
  attempts: number;
  next_attempt_at: string | null;
  last_error: string | null;
  created_at: string | null;
  delivered_at: string | null;
  payload: AlertPayload;
}

export function alertView(a: Selectable<AlertsTable>): AlertView {
  return {
    id: a.id,
    project: a.project,
    job: a.job,
    run_id: a.run_id,
    rule: a.rule,
    kind: a.kind,
    format: a.format,
    target: targetOrigin(a.target),
    state: a.state,
    attempts: a.attempts,
    next_attempt_at: a.state === ALERT_STATES.pending ? iso(a.next_attempt_at) : null,
    last_error: a.last_error,
    created_at: iso(a.created_at),
    delivered_at: iso(a.delivered_at),
    payload: JSON.parse(a.payload_json) as AlertPayload,
  };
}

export function registerAlertRoutes(app: Hono, engine: Engine, intParam: (c: Context, name: string, dflt: number, min: number, max: number) => number): void {
  const db = engine.db.kysely;
  app.get('/api/v1/alerts', async (c) => {
    const limit = intParam(c, 'limit', 50, 1, 1000);
    let q = db.selectFrom('alerts').selectAll();
    const project = c.req.query('project');
    const job = c.req.query('job');
    const run = c.req.query('run');
    const state = c.req.query('state');
    if (project) q = q.where('project', '=', project);
    if (job) q = q.where('job', '=', job);
    if (run) q = q.where('run_id', '=', run);
    if (state) {
      const states = state.split(',');
      for (const s of states) {
        if (!(ALERT_STATE_LIST as readonly string[]).includes(s)) throw new KairosError('invalid_input', `unknown alert state "${s}"; states: ${ALERT_STATE_LIST.join(', ')}`);
      }
      q = q.where('state', 'in', states);
    }
    const rows = await q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return c.json({ alerts: rows.map(alertView) });
  });
}
