import type { KairosClient } from '../api/client.js';
import { parseInstant } from '../model/instant.js';
import { intOption, stringOption, type Parsed } from './args.js';
import type { Command } from './command.js';
import { shortTime, table, UsageError, type Io } from './output.js';
import { projectOfJob } from './schedule-target.js';

const USAGE = 'schedules [history JOB [--limit N] [--from ISO] [--to ISO]] [--project P] [--json]';

/** '850ms', '12.3s', '5m07s', '2h05m'. */
export function lateness(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function instantOption(value: unknown, name: string): string | undefined {
  const raw = stringOption(value);
  if (raw !== undefined && parseInstant(raw) === null) throw new UsageError(`--${name} must be an ISO-8601 instant with an offset, such as 2026-03-08T07:00:00Z, got "${raw}"`);
  return raw;
}

async function list(p: Parsed, io: Io, client: KairosClient): Promise<void> {
  const { schedules } = await client.schedules(stringOption(p.values.project));
  if (p.globals.json) {
    io.out(JSON.stringify(schedules, null, 2) + '\n');
    return;
  }
  if (schedules.length === 0) {
    io.err('no schedules\n');
    return;
  }
  io.out(
    table(
      ['JOB', 'CRON', 'TIMEZONE', 'NEXT (UTC)', 'NEXT (LOCAL)', 'STATE', 'DESCRIPTION'],
      schedules.map((s) => [
        s.project + '/' + s.job,
        s.cron,
        s.timezone,
        s.paused ? '-' : shortTime(s.next[0]?.at ?? s.next_fire_at),
        s.paused ? '-' : (s.next[0]?.local ?? '-'),
        s.paused ? 'paused' : 'active',
        s.description ?? '',
      ]),
    ),
  );
  for (const s of schedules) {
    if (s.dst_note) io.err(`note: ${s.project}/${s.job}: ${s.dst_note}\n`);
  }
}

async function history(p: Parsed, io: Io, client: KairosClient, job: string): Promise<void> {
  const limit = intOption(p.values.limit, 'limit', 1, 5000) ?? 50;
  const from = instantOption(p.values.from, 'from');
  const to = instantOption(p.values.to, 'to');
  const project = await projectOfJob(client, job, stringOption(p.values.project));
  const { ticks } = await client.ticks(project, job, limit, { from, to });
  if (p.globals.json) {
    io.out(JSON.stringify(ticks, null, 2) + '\n');
    return;
  }
  if (ticks.length === 0) {
    io.err(`no ticks of ${project}/${job} recorded${from || to ? ' in that range' : ' yet'}\n`);
    return;
  }
  io.out(
    table(
      ['TICK (UTC)', 'LOCAL', 'OUTCOME', 'LATENESS', 'RUN', 'REASON'],
      ticks.map((t) => [shortTime(t.instant), t.local, t.outcome, lateness(t.lateness_ms), t.run_id ?? '-', t.reason ?? '']),
    ),
  );
}

export const schedulesCommand: Command = {
  name: 'schedules',
  summary: 'schedules with their next fire times (UTC and local); `schedules history JOB`: its tick ledger',
  usage: USAGE,
  options: { project: { type: 'string' }, limit: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } },
  positionals: { min: 0, max: 2 },
  async run(p, { io, client }) {
    const [sub, job] = p.positionals;
    if (sub === undefined) {
      for (const o of ['limit', 'from', 'to']) if (p.values[o] !== undefined) throw new UsageError(`--${o} applies to \`kairos schedules history JOB\`\nusage: kairos ${USAGE}`);
      return list(p, io, client(p));
    }
    if (sub !== 'history') throw new UsageError(`unknown subcommand "schedules ${sub}"\nusage: kairos ${USAGE}`);
    if (job === undefined) throw new UsageError(`missing JOB\nusage: kairos ${USAGE}`);
    return history(p, io, client(p), job);
  },
};
