import type { Command } from './command.js';
import { onRun } from './run-id.js';

export const rerunCommand: Command = {
  name: 'rerun',
  summary: 'run a run again: same deployment, parameters and logical time',
  usage: 'rerun RUN [--json]',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(p, { io, client }) {
    const run = await onRun(p.positionals[0] ?? '', p.globals.server, (id) => client(p).rerun(id));
    io.out(p.globals.json ? JSON.stringify(run, null, 2) + '\n' : `${run.id}\n`);
  },
};
