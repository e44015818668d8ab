import { stringOption } from './args.js';
import type { Command } from './command.js';
import { shortTime, table } from './output.js';

export const schedulesCommand: Command = {
  name: 'schedules',
  summary: 'schedules with their next fire times (UTC and local)',
  usage: 'schedules [--project P] [--json]',
  options: { project: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(p, { io, client }) {
    const { schedules } = await client(p).schedules(stringOption(p.values.project));
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
  },
};
