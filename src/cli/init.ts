import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { initTemplate, toProjectName } from '../manifest/index.js';
import type { Command } from './command.js';
import { UsageError } from './output.js';

/**
 * `kairos up` keeps its database and the key that seals secrets in DIR/.kairos: `git add .` must not pick
 * them up. Adds `.kairos/` to DIR/.gitignore (made if missing); says what it did, or nothing.
 */
async function ignoreDataDir(dir: string): Promise<string | null> {
  const file = join(dir, '.gitignore');
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) {
    await writeFile(file, '# kairos up: database, bundles and the secret key (never commit them)\n.kairos/\n');
    return `wrote ${file} (ignores .kairos/, where kairos up keeps its database and secret key)`;
  }
  if (text.split(/\r?\n/).some((l) => /^\/?\.kairos\/?(\*\*?)?$/.test(l.trim()))) return null;
  await appendFile(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}# kairos up: database, bundles and the secret key (never commit them)\n.kairos/\n`);
  return `added .kairos/ to ${file}`;
}

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
    const ignored = await ignoreDataDir(dir);
    io.out(`wrote ${file}${ignored ? `\n${ignored}` : ''}\nnext: edit it, then \`kairos validate ${p.positionals[0] ?? '.'}\` and \`kairos up ${p.positionals[0] ?? '.'}\`\n`);
  },
};
