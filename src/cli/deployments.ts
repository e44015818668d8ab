import { KairosClient } from '../api/client.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { shortTime, table } from './output.js';

export const deploymentsCommand: Command = {
  name: 'deployments',
  summary: "a project's versions: hash, who deployed it, when, from which commit, which is active",
  usage: 'deployments [--project P] [--json]',
  options: { project: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(p, { io }) {
    const { deployments } = await new KairosClient(p.globals.server, p.globals.token).deployments(stringOption(p.values.project));
    if (p.globals.json) {
      io.out(JSON.stringify(deployments, null, 2) + '\n');
      return;
    }
    if (deployments.length === 0) {
      io.out('no deployments\n');
      return;
    }
    io.out(
      table(
        ['PROJECT', 'VERSION', 'HASH', 'BY', 'WHEN', 'COMMIT', 'ACTIVE'],
        deployments.map((d) => [d.project, `v${d.version}`, d.bundle_hash.slice(0, 12), d.deployed_by ?? '-', shortTime(d.created_at), d.git_commit ? d.git_commit.slice(0, 12) + (d.git_dirty ? '+dirty' : '') : '-', d.active ? 'active' : '']),
      ),
    );
  },
};
