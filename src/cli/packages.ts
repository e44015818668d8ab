/** `kairos packages`: the team's package index: packages, versions, the runs that used each; yank and un-yank. */
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { table, UsageError } from './output.js';

const USAGE = 'packages [NAME] [--json] | packages yank NAME VERSION [--reason R] | packages unyank NAME VERSION';

export const packagesCommand: Command = {
  name: 'packages',
  summary: 'packages of the internal index: versions, yanked ones, and which runs used each; yank and un-yank versions',
  usage: USAGE,
  options: { reason: { type: 'string' } },
  positionals: { min: 0, max: 3 },
  async run(p, { io, client }) {
    const [first, name, version] = p.positionals;
    const c = client(p);
    if (first === 'yank' || first === 'unyank') {
      if (!name || !version) throw new UsageError(`missing NAME or VERSION\nusage: kairos ${USAGE}`);
      const r = first === 'yank' ? await c.yank(name, version, stringOption(p.values.reason) ?? null) : await c.unyank(name, version);
      io.out(p.globals.json ? JSON.stringify(r, null, 2) + '\n' : `${r.yanked ? 'yanked' : 'un-yanked'} ${r.name} ${r.version} (${r.files} file${r.files === 1 ? '' : 's'})\n`);
      return;
    }
    if (name !== undefined) throw new UsageError(`unexpected argument "${name}"\nusage: kairos ${USAGE}`);
    if (p.values.reason !== undefined) throw new UsageError('--reason goes with `packages yank`');
    const packages = first === undefined ? (await c.packages()).packages : [await c.package(first)];
    if (p.globals.json) {
      io.out(JSON.stringify(first === undefined ? packages : packages[0], null, 2) + '\n');
      return;
    }
    if (packages.length === 0) {
      io.err('no packages yet: `kairos publish DIR` builds and uploads one (docs/packages.md)\n');
      return;
    }
    const rows = packages.flatMap((pkg) =>
      [...pkg.versions].reverse().map((v) => [pkg.name, v.version, v.yanked ? `yanked${v.yanked_reason ? `: ${v.yanked_reason}` : ''}` : '', String(v.files.length), v.runs.length === 0 ? '-' : v.runs.slice(0, 5).map((r) => `${r.run_id}#${r.attempt}`).join(' ') + (v.runs.length > 5 ? ` (+${v.runs.length - 5})` : '')]),
    );
    io.out(table(['PACKAGE', 'VERSION', 'YANKED', 'FILES', 'USED BY (run#attempt)'], rows));
  },
};
