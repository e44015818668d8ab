import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { initTemplate, toProjectName } from '../manifest/index.js';
import type { Command } from './command.js';
import { UsageError } from './output.js';

export const initCommand: Command = {
  name: 'init',
  summary: 'write a commented starter kairos.yaml',
  usage: 'init [DIR] [--project NAME] [--force]',
  options: { project: { type: 'string' }, force: { type: 'boolean' } },
  positionals: { min: 0, max: 1 },
  async run(p, { io }) {
    const dir = resolve(p.positionals[0] ?? '.');
    const file = join(dir, 'kairos.yaml');
    if (existsSync(file) && p.values.force !== true) throw new UsageError(`${file} already exists; use --force to overwrite it`);
    const project = typeof p.values.project === 'string' ? p.values.project : toProjectName(basename(dir));
    if (!/^[a-z][a-z0-9_-]{0,62}$/.test(project)) throw new UsageError(`--project must be lower-case letters, digits, "-" or "_", starting with a letter; got "${project}"`);
    await mkdir(dir, { recursive: true });
    await writeFile(file, initTemplate(project));
    io.out(`wrote ${file}\nnext: edit it, then \`kairos validate ${p.positionals[0] ?? '.'}\` and \`kairos up ${p.positionals[0] ?? '.'}\`\n`);
  },
};
