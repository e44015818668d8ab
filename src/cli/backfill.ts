import { parseInstant } from '../model/instant.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { shortTime, table, UsageError } from './output.js';
import { projectOfJob } from './schedule-target.js';

function instantOption(value: unknown, name: string): string {
  const raw = stringOption(value);
  if (raw === undefined) throw new UsageError(`--${name} is required\nusage: kairos backfill JOB --from ISO --to ISO [--project P] [--dry-run] [--json]`);
  if (parseInstant(raw) === null) throw new UsageError(`--${name} must be an ISO-8601 instant with an offset, such as 2026-01-01T00:00:00Z (or a date, meaning 00:00 UTC), got "${raw}"`);
  return raw;
}

export const backfillCommand: Command = {
  name: 'backfill',
  summary: "one run for each tick of a job's schedule in [--from, --to], each with its logical time; idempotent",
  usage: 'backfill JOB --from ISO --to ISO [--project P] [--dry-run] [--json]',
  options: { project: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(p, { io, client: mk }) {
    const job = p.positionals[0] ?? '';
    const from = instantOption(p.values.from, 'from');
    const to = instantOption(p.values.to, 'to');
    const dryRun = p.values['dry-run'] === true;
    const client = mk(p);
    const project = await projectOfJob(client, job, stringOption(p.values.project));
    const r = await client.backfill(project, job, from, to, dryRun);
    if (p.globals.json) {
      io.out(JSON.stringify(r, null, 2) + '\n');
      return;
    }
    const already = r.existing > 0 ? `; ${r.existing} already had a run` : '';
    const how = r.serial ? `concurrency ${r.concurrency}: they run one at a time, oldest first` : 'concurrency allow: they may run in parallel';
    if (dryRun) {
      if (r.planned.length > 0) io.out(table(['SCHEDULED FOR (UTC)', 'LOCAL'], r.planned.map((t) => [shortTime(t.scheduled_for), t.local])));
      io.err(`dry run: would create ${r.planned.length} backfill runs of ${r.project}/${r.job} (${r.ticks} ticks in the range${already}); ${how}\n`);
      return;
    }
    if (r.created.length === 0) {
      io.err(`nothing to do: ${r.ticks === 0 ? `no tick of ${r.project}/${r.job} falls in the range` : `all ${r.ticks} ticks in the range already have a run`}\n`);
      return;
    }
    io.out(
      table(
        ['ID', 'SCHEDULED FOR (UTC)', 'LOCAL'],
        r.created.map((run, i) => [run.id, shortTime(run.scheduled_for), r.planned[i]?.local ?? '']),
      ),
    );
    io.err(`created ${r.created.length} backfill runs of ${r.project}/${r.job} (${r.ticks} ticks in the range${already}); ${how}\n`);
  },
};
