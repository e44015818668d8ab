import { formatProblem, loadManifestFile } from '../manifest/index.js';
import type { Command } from './command.js';
import { EXIT } from './output.js';

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check a manifest; one line a problem: FILE:LINE:COL: PATH: message',
  usage: 'validate [PATH] [--json]',
  options: {},
  positionals: { min: 0, max: 1 },
  async run(p, { io }) {
    const result = await loadManifestFile(p.positionals[0] ?? '.');
    if (p.globals.json) {
      io.out(JSON.stringify(result.ok ? { ok: true, project: result.manifest.project, jobs: Object.keys(result.manifest.jobs), problems: [] } : { ok: false, problems: result.problems }, null, 2) + '\n');
      return result.ok ? EXIT.ok : EXIT.usage;
    }
    if (!result.ok) {
      for (const problem of result.problems) io.out(formatProblem(problem) + '\n');
      io.err(`${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}\n`);
      return EXIT.usage;
    }
    const jobs = Object.keys(result.manifest.jobs);
    const pipelines = Object.keys(result.manifest.pipelines ?? {});
    const withPipelines = pipelines.length === 0 ? '' : `, ${pipelines.length} pipeline${pipelines.length === 1 ? '' : 's'} (${pipelines.join(', ')})`;
    io.out(`ok: project ${result.manifest.project}, ${jobs.length} job${jobs.length === 1 ? '' : 's'} (${jobs.join(', ')})${withPipelines}\n`);
    return EXIT.ok;
  },
};
