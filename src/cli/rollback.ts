import { KairosClient } from '../api/client.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { UsageError } from './output.js';

export const rollbackCommand: Command = {
  name: 'rollback',
  summary: 'make an earlier version of a project active again (its schedules follow that version)',
  usage: 'rollback VERSION [--project P] [--json]',
  options: { project: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async run(p, { io }) {
    const raw = p.positionals[0] ?? '';
    const version = Number(raw.replace(/^v/, ''));
    if (!Number.isInteger(version) || version < 1) throw new UsageError(`VERSION must be a version number such as 3 or v3, got "${raw}"`);
    const client = new KairosClient(p.globals.server, p.globals.token);
    let project = stringOption(p.values.project);
    if (!project) {
      const projects = [...new Set((await client.deployments()).deployments.map((d) => d.project))];
      if (projects.length === 0) throw new UsageError('nothing is deployed yet');
      if (projects.length > 1) throw new UsageError(`several projects are deployed (${projects.join(', ')}); name one with --project`);
      project = projects[0] ?? '';
    }
    const d = await client.activate(project, version);
    io.out(p.globals.json ? JSON.stringify(d, null, 2) + '\n' : `${d.project} v${d.version} (${d.bundle_hash.slice(0, 12)}) is active\n`);
  },
};
