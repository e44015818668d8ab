import { stringOption } from './args.js';
import type { Command } from './command.js';
import { paramsCell, resourcesCell } from './job-params.js';
import { table } from './output.js';

export const jobsCommand: Command = {
  name: 'jobs',
  summary: 'jobs of the active deployments: schedule, parameters (type, default, values), pool, resources, environment',
  usage: 'jobs [--project P] [--json]',
  options: { project: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(p, { io, client }) {
    const { jobs } = await client(p).jobs(stringOption(p.values.project));
    if (p.globals.json) {
      io.out(JSON.stringify(jobs, null, 2) + '\n');
      return;
    }
    if (jobs.length === 0) {
      io.err(stringOption(p.values.project) ? `no jobs: project ${stringOption(p.values.project)} has no active deployment\n` : 'no jobs: nothing is deployed yet (`kairos deploy DIR` or `kairos up DIR`)\n');
      return;
    }
    io.out(
      table(
        ['PROJECT', 'JOB', 'SCHEDULE', 'POOL', 'RESOURCES', 'ENVIRONMENT', 'PARAMS'],
        jobs.map((j) => [j.project, j.name, j.schedule ? `${j.schedule.cron} (${j.schedule.timezone})` : '-', j.pool, resourcesCell(j.resources), j.environment ?? '-', paramsCell(j.params)]),
      ),
    );
    io.err('params: NAME:TYPE{VALUES}=DEFAULT, "!" marks a required one without a default; `kairos run JOB --help` shows one job\'s in full\n');
  },
};
