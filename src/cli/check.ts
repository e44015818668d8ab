import { KairosClient } from '../api/client.js';
import { formatReport, runChecks, type CheckGroup } from '../check/index.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { EXIT, UsageError } from './output.js';

const GROUPS: readonly CheckGroup[] = ['configuration', 'dependencies', 'code'];

export const checkCommand: Command = {
  name: 'check',
  summary: 'checks a project before it runs: configuration (manifest, secrets, pools, schedules), dependencies, code (tests, smoke runs)',
  usage: 'check [DIR] [--skip dependencies,code] [--data DIR] [--json]',
  options: { skip: { type: 'string' }, data: { type: 'string' } },
  positionals: { min: 0, max: 1 },
  async run(p, { io, env }) {
    const skip = (stringOption(p.values.skip) ?? '').split(',').filter(Boolean);
    for (const s of skip) if (!GROUPS.includes(s as CheckGroup) || s === 'configuration') throw new UsageError(`--skip takes dependencies and/or code, got "${s}"`);
    const explicit = typeof p.values.server === 'string' || (env.KAIROS_SERVER ?? '') !== '';
    const client = new KairosClient(p.globals.server, p.globals.token);
    try {
      const report = await runChecks(p.positionals[0] ?? '.', {
        server: { client, explicit },
        skip: skip as CheckGroup[],
        ...(stringOption(p.values.data) ? { dataDir: stringOption(p.values.data) } : {}),
      });
      if (p.globals.json) io.out(JSON.stringify(report, null, 2) + '\n');
      else io.out(formatReport(report, { color: io.tty }));
      return report.invalidManifest ? EXIT.usage : report.ok ? EXIT.ok : EXIT.failed;
    } finally {
      client.close();
    }
  },
};
