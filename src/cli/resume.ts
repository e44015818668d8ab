import { stringOption } from './args.js';
import type { Command } from './command.js';
import { projectOfJob } from './schedule-target.js';

export const resumeCommand: Command = {
  name: 'resume',
  summary: "resume a paused schedule (missed ticks are handled by its catchup policy)",
  usage: 'resume JOB [--project P] [--json]',
  options: { project: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(p, { io, client: mk }) {
    const client = mk(p);
    const job = p.positionals[0] ?? '';
    const s = await client.resume(await projectOfJob(client, job, stringOption(p.values.project)), job);
    io.out(p.globals.json ? JSON.stringify(s, null, 2) + '\n' : `resumed ${s.project}/${s.job}; next fire ${s.next[0]?.at ?? '-'}\n`);
  },
};
