import { formatInZone } from '../model/cron/index.js';
import { isDateOnly, localDayBounds } from '../model/cron/local-day.js';
import { parseInstant } from '../model/instant.js';
import type { KairosClient } from '../api/client.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { shortTime, table, UsageError } from './output.js';
import { projectOfJob } from './schedule-target.js';
import { pipelineProject } from './pipelines.js';

const USAGE = 'backfill JOB|PIPELINE --from DATE|ISO --to DATE|ISO [--project P] [--dry-run] [--json]';

/**
 * A bound as the user wrote it. A date alone (2026-11-28) is a whole day in the job's time zone: `--from`
 * its first instant, `--to` its last (inclusive, as a user of Airflow's `dags backfill -s/-e` expects). An
 * instant needs its offset (2026-11-28T06:00:00+01:00); without one it would silently mean this host's zone.
 */
export function readBound(raw: string | undefined, name: 'from' | 'to', zone: string): number {
  if (raw === undefined) throw new UsageError(`--${name} is required\nusage: kairos ${USAGE}`);
  if (isDateOnly(raw)) {
    const day = localDayBounds(zone, raw);
    if (day === null) throw new UsageError(`--${name} "${raw}" is not a date`);
    return name === 'from' ? day.startMs : day.endMs;
  }
  const t = parseInstant(raw);
  if (t === null) throw new UsageError(`--${name} must be an ISO-8601 instant with an offset, such as 2026-11-28T06:00:00Z, or a date alone (2026-11-28: that whole day in the job's time zone); got "${raw}"`);
  return t;
}

async function zoneOf(client: KairosClient, project: string, job: string): Promise<string> {
  const { schedules } = await client.schedules();
  return schedules.find((s) => s.project === project && s.job === job)?.timezone ?? 'UTC';
}

export const backfillCommand: Command = {
  name: 'backfill',
  summary: "one run for each tick of a job's schedule in [--from, --to], each with its logical time; a date is a whole day in the job's time zone; idempotent",
  usage: USAGE,
  options: { project: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(p, { io, client: mk }) {
    const job = p.positionals[0] ?? '';
    const rawFrom = stringOption(p.values.from);
    const rawTo = stringOption(p.values.to);
    // Bad usage is said before the server is asked anything.
    readBound(rawFrom, 'from', 'UTC');
    readBound(rawTo, 'to', 'UTC');
    const dryRun = p.values['dry-run'] === true;
    const client = mk(p);
    const pipelineProjectName = await pipelineProject(client, job, stringOption(p.values.project)).catch(() => null);
    if (pipelineProjectName !== null) {
      const zone = (await client.pipelines(pipelineProjectName)).pipelines.find((x) => x.name === job)?.schedule?.timezone ?? 'UTC';
      const from = readBound(rawFrom, 'from', zone);
      let to = readBound(rawTo, 'to', zone);
      if (rawTo !== undefined && isDateOnly(rawTo) && to > Date.now()) to = Date.now();
      const r = await client.backfillPipeline(pipelineProjectName, job, new Date(from).toISOString(), new Date(to).toISOString(), dryRun);
      if (p.globals.json) io.out(JSON.stringify(r, null, 2) + '\n');
      else io.out(`${r.ticks} ticks, ${r.existing} already had a pipeline run, ${dryRun ? `${r.planned.length} would be created` : `${r.created.length} pipeline runs created`}\n${(dryRun ? r.planned : r.created.map((c) => `${c.id} ${c.scheduled_for}`)).join('\n')}\n`);
      return;
    }
    const project = await projectOfJob(client, job, stringOption(p.values.project));
    const zone = await zoneOf(client, project, job);
    const from = readBound(rawFrom, 'from', zone);
    let to = readBound(rawTo, 'to', zone);
    // A day that is not over yet ends now: its coming ticks are the scheduler's.
    const clamped = rawTo !== undefined && isDateOnly(rawTo) && to > Date.now();
    if (clamped) to = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
    io.err(`kairos: backfill ${project}/${job} from ${formatInZone(zone, from)} to ${formatInZone(zone, to)}${clamped ? ' (now)' : ''} ${zone} (${iso(from)} to ${iso(to)})\n`);
    const r = await client.backfill(project, job, new Date(from).toISOString(), new Date(to).toISOString(), dryRun);
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
