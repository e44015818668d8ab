import { ALERT_STATE_LIST } from '../model/alerts.js';
import { intOption, stringOption } from './args.js';
import type { Command } from './command.js';
import { inert, shortTime, table, UsageError } from './output.js';

export const alertsCommand: Command = {
  name: 'alerts',
  summary: 'alerts sent to notify webhooks, newest first, with their delivery state',
  usage: 'alerts [--job J] [--run RUN] [--state pending|delivered|failed] [--project P] [--limit N] [--json]',
  options: { job: { type: 'string' }, run: { type: 'string' }, state: { type: 'string' }, project: { type: 'string' }, limit: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(p, { io, client }) {
    const state = stringOption(p.values.state);
    for (const s of state?.split(',') ?? []) {
      if (!(ALERT_STATE_LIST as readonly string[]).includes(s)) throw new UsageError(`unknown alert state "${s}"; states: ${ALERT_STATE_LIST.join(', ')}`);
    }
    const limit = intOption(p.values.limit, 'limit', 1, 1000) ?? 20;
    const { alerts } = await client(p).listAlerts({ job: stringOption(p.values.job), run: stringOption(p.values.run), state, project: stringOption(p.values.project), limit });
    if (p.globals.json) {
      io.out(JSON.stringify(alerts, null, 2) + '\n');
      return;
    }
    if (alerts.length === 0) {
      io.err('no alerts\n');
      return;
    }
    io.out(
      table(
        ['CREATED', 'JOB', 'RUN', 'KIND', 'TARGET', 'STATE', 'ATTEMPTS', 'LAST ERROR'],
        alerts.map((a) => [shortTime(a.created_at), a.job, a.run_id, a.kind, a.target, a.state, String(a.attempts), a.last_error === null ? '-' : inert(a.last_error)]),
      ),
    );
  },
};
