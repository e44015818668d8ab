import type { Command } from './command.js';
import { onRun } from './run-id.js';
import { onPipelineRun } from './pipelines.js';

export const cancelCommand: Command = {
  name: 'cancel',
  summary: 'cancel a run (its whole process group gets TERM, then KILL after the grace period)',
  usage: 'cancel RUN|PIPELINE_RUN [--json]',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(p, { io, client }) {
    const pr = await onPipelineRun(client(p), p.positionals[0] ?? '', (id) => client(p).cancelPipelineRun(id));
    if (pr !== null) {
      io.out(p.globals.json ? JSON.stringify(pr, null, 2) + '\n' : pr.state === 'running' ? `pipeline run ${pr.id} is being cancelled\n` : `pipeline run ${pr.id} ${pr.state}\n`);
      return;
    }
    const run = await onRun(p.positionals[0] ?? '', p.globals.server, (id) => client(p).cancelRun(id));
    if (p.globals.json) io.out(JSON.stringify(run, null, 2) + '\n');
    else io.out(run.state === 'cancelled' ? `run ${run.id} cancelled\n` : run.state === 'running' ? `run ${run.id} is being cancelled\n` : `run ${run.id} already ${run.state}\n`);
  },
};
