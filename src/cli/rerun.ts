import type { Command } from './command.js';
import { onRun } from './run-id.js';
import { noPipelineRun, onPipelineRun } from './pipelines.js';
import { UsageError } from './output.js';

export const rerunCommand: Command = {
  name: 'rerun',
  summary: 'run a run again: same deployment, parameters and logical time',
  usage: 'rerun RUN [--json] · rerun PIPELINE_RUN --from-failed [--json]',
  options: { 'from-failed': { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run(p, { io, client }) {
    const id = p.positionals[0] ?? '';
    const isPipeline = await onPipelineRun(client(p), id, async () => true);
    if (p.values['from-failed'] === true || isPipeline) {
      if (!isPipeline) noPipelineRun(id, p.globals.server);
      if (p.values['from-failed'] !== true) throw new UsageError(`${id} is a pipeline run: \`kairos rerun ${id} --from-failed\` runs its failed and skipped steps again`);
      const pr = await client(p).rerunPipelineFromFailed(id);
      io.out(p.globals.json ? JSON.stringify(pr, null, 2) + '\n' : `${pr.id}\n`);
      return;
    }
    const run = await onRun(p.positionals[0] ?? '', p.globals.server, (id) => client(p).rerun(id));
    io.out(p.globals.json ? JSON.stringify(run, null, 2) + '\n' : `${run.id}\n`);
  },
};
