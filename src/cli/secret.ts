/**
 * `kairos secret set|list|delete`. A value is read from stdin (a terminal does not echo it; piped input is
 * taken as is, less one trailing newline) or from --file; it never comes from the command line, where it
 * would land in shell history and in `ps`.
 */
import { readFileSync } from 'node:fs';
import type { KairosClient } from '../api/client.js';
import { SECRET_NAME } from '../control/secrets.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { Failure, shortTime, table, UsageError, type Io } from './output.js';

const USAGE = 'secret set NAME [--project P] [--file PATH] | secret list [--project P] [--json] | secret delete NAME [--project P]';

function checkName(name: string | undefined): string {
  if (!name) throw new UsageError(`missing the secret's NAME\nusage: kairos ${USAGE}`);
  if (!SECRET_NAME.test(name) || name.startsWith('KAIROS_')) {
    throw new UsageError(`"${name}" is not a valid secret name: upper-case letters, digits and "_", not starting with a digit, at most 128 characters, not starting with KAIROS_ (e.g. DB_PASSWORD)`);
  }
  return name;
}

/** --project, else the server's only project. */
async function projectOf(client: KairosClient, given: string | undefined): Promise<string> {
  if (given) return given;
  const { deployments } = await client.deployments();
  const projects = [...new Set(deployments.filter((d) => d.active === true).map((d) => String(d.project)))];
  if (projects.length === 1 && projects[0]) return projects[0];
  throw new UsageError(projects.length === 0 ? '--project is required: the server has no deployed project yet' : `--project is required: the server has projects ${projects.join(', ')}`);
}

/** Reads a line from a terminal without echoing it. */
function readHidden(io: Io, prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the prompt shows: what is typed as soon as it appears must not be echoed by the terminal.
  stdin.setRawMode(true);
  io.err(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.off('data', onData);
      stdin.pause();
      io.err('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new Failure('cancelled', 130));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

async function readPiped(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  // `echo value | kairos secret set NAME` means the value, not the value and a newline.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function readValue(io: Io, name: string, file: string | undefined): Promise<string> {
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return process.stdin.isTTY ? readHidden(io, `value of ${name} (not echoed): `) : readPiped();
}

export const secretCommand: Command = {
  name: 'secret',
  summary: "set, list or delete a project's secrets (values are encrypted at rest, given to runs as environment variables, masked in logs)",
  usage: USAGE,
  options: { project: { type: 'string' }, file: { type: 'string' } },
  positionals: { min: 1, max: 2 },
  async run(p, { io, client }) {
    const [action, name] = p.positionals;
    const c = client(p);
    const given = stringOption(p.values.project);
    switch (action) {
      case 'set': {
        const n = checkName(name);
        const project = await projectOf(c, given);
        const value = await readValue(io, n, stringOption(p.values.file));
        if (value === '') throw new UsageError('the value is empty; pipe it in, type it at the prompt, or use --file PATH');
        const s = await c.setSecret(project, n, value);
        if (p.globals.json) io.out(JSON.stringify(s, null, 2) + '\n');
        else io.out(`secret ${s.name} set in project ${s.project}\n`);
        return;
      }
      case 'list': {
        if (name !== undefined) throw new UsageError(`unexpected argument "${name}"\nusage: kairos ${USAGE}`);
        const { secrets } = await c.listSecrets(given);
        if (p.globals.json) io.out(JSON.stringify(secrets, null, 2) + '\n');
        else if (secrets.length === 0) io.err('no secrets\n');
        else io.out(table(['PROJECT', 'NAME', 'UPDATED', 'KEY'], secrets.map((s) => [s.project, s.name, shortTime(s.updated_at), s.key_id])));
        return;
      }
      case 'delete': {
        const n = checkName(name);
        const project = await projectOf(c, given);
        await c.deleteSecret(project, n);
        if (p.globals.json) io.out(JSON.stringify({ deleted: true, project, name: n }) + '\n');
        else io.out(`secret ${n} deleted from project ${project}\n`);
        return;
      }
      default:
        throw new UsageError(`unknown action "${action ?? ''}"; use set, list or delete\nusage: kairos ${USAGE}`);
    }
  },
};
