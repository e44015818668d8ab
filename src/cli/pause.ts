import { stringOption } from './args.js';
import type { Command } from './command.js';
import { projectOfJob } from './schedule-target.js';

export const pauseCommand: Command = {
  name: 'pause',
  summary: "pause a job's schedule (its ticks are skipped until resumed)",
  usage: 'pause JOB [--project P] [--json]',
  options: { project: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(p, { io, client: mk }) {
    const client = mk(p);
    const job = p.positionals[0] ?? '';
    const s = await client.pause(await projectOfJob(client, job, stringOption(p.values.project)), job);
    io.out(p.globals.json ? JSON.stringify(s, null, 2) + '\n' : `paused ${s.project}/${s.job}\n`);
  },
};
