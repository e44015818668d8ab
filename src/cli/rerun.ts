import type { Command } from './command.js';

export const rerunCommand: Command = {
  name: 'rerun',
  summary: 'run a run again: same deployment, parameters and logical time',
  usage: 'rerun RUN [--json]',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(p, { io, client }) {
    const run = await client(p).rerun(p.positionals[0] ?? '');
    io.out(p.globals.json ? JSON.stringify(run, null, 2) + '\n' : `${run.id}\n`);
  },
};
