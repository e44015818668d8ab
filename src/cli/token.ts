import { join, resolve } from 'node:path';
import { KairosClient, type TokenView } from '../api/client.js';
import { createToken, listTokens, revokeToken, tokensExist, tokenView } from '../control/tokens.js';
import { openSqlite, type Db } from '../store/db.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { shortTime, table, UsageError, type Io } from './output.js';

const USAGE = 'token create NAME --scope read|run|deploy|admin|worker|publish [--project P] [--packages PREFIX,…] | token list | token revoke NAME   [--data DIR | --db sqlite:PATH] [--json]';

/** With --data / --db the command works on the database directly (a server that is not running, or bootstrapping). */
async function openDirect(values: Record<string, unknown>): Promise<Db | null> {
  const data = stringOption(values.data);
  const url = stringOption(values.db);
  if (data && url) throw new UsageError('give --data or --db, not both');
  if (!data && !url) return null;
  const dbUrl = url ?? `sqlite:${join(resolve(data ?? ''), 'kairos.db')}`;
  if (!dbUrl.startsWith('sqlite:')) throw new UsageError(`--db must be sqlite:PATH here, got "${dbUrl}"; against another database, create tokens through the server`);
  return openSqlite(resolve(dbUrl.slice('sqlite:'.length)));
}

/** A new token; `auth_turned_on` when it is the first and the server asked for no token until now. */
type Created = TokenView & { token: string; first?: boolean; auth_turned_on?: boolean };

interface TokenOps {
  create(name: string, scope: string, project: string | null, packages: string | null): Promise<Created>;
  revoke(name: string): Promise<TokenView>;
  list(): Promise<TokenView[]>;
}

function direct(db: Db): TokenOps {
  return {
    create: async (name, scope, project, packages) => {
      const first = !(await tokensExist(db));
      const r = await createToken(db, { name, scope, project, packages, createdBy: 'local' });
      // Directly on the database, nobody can tell whether the server has a bootstrap token: say what the
      // stored token does (a server without --token asks for one from now on).
      return { ...tokenView(r.row), token: r.token, first, auth_turned_on: first };
    },
    revoke: async (name) => tokenView(await revokeToken(db, name, null)),
    list: async () => (await listTokens(db, null)).map(tokenView),
  };
}

function remote(client: KairosClient): TokenOps {
  return {
    create: (name, scope, project, packages) => client.createToken(name, scope, project, packages),
    revoke: (name) => client.revokeToken(name),
    list: async () => (await client.listTokens()).tokens,
  };
}

/**
 * How to use the new token, and, when it was the first, that the server now needs one for everything. The
 * token itself is repeated only when both stdout and stderr are a terminal (nothing is captured).
 */
function printUsage(made: Created, io: Io, server: string | null): void {
  if (made.auth_turned_on) {
    const where = server ? `the server at ${server}` : 'a server on this database (unless it has its own --token)';
    io.err(
      `kairos: WARNING: this is the first token: from now on ${where} refuses every request without a token\n` +
        '        (the CLI, `kairos worker`, scripts and the dashboard get 401 unauthorized until they send one).\n',
    );
  }
  const value = io.tty && io.errTty ? made.token : '<the token printed above>';
  io.err(`kairos: use it:  export KAIROS_TOKEN=${value}   (or --token on each command; see docs/auth.md)\n`);
}

export const tokenCommand: Command = {
  name: 'token',
  summary: 'API tokens: create (printed once), list, revoke',
  usage: USAGE,
  options: { scope: { type: 'string' }, project: { type: 'string' }, packages: { type: 'string' }, data: { type: 'string' }, db: { type: 'string' } },
  positionals: { min: 1, max: 2 },
  async run(p, { io }) {
    const [action, name] = p.positionals;
    if (action !== 'create' && action !== 'list' && action !== 'revoke') throw new UsageError(`unknown action "${action ?? ''}"\nusage: kairos ${USAGE}`);
    if (action !== 'list' && !name) throw new UsageError(`missing token NAME\nusage: kairos ${USAGE}`);
    if (action === 'list' && name) throw new UsageError(`unexpected argument "${name}"\nusage: kairos ${USAGE}`);
    if (action === 'create' && !stringOption(p.values.scope)) throw new UsageError('--scope is required: read, run, deploy, admin, worker or publish');
    const db = await openDirect(p.values);
    // One set of operations, on the database directly or through the server.
    const ops: TokenOps = db ? direct(db) : remote(new KairosClient(p.globals.server, p.globals.token));
    try {
      if (action === 'create') {
        const made = await ops.create(name ?? '', stringOption(p.values.scope) ?? '', stringOption(p.values.project) ?? null, stringOption(p.values.packages) ?? null);
        if (p.globals.json) io.out(JSON.stringify(made, null, 2) + '\n');
        else {
          io.out(`${made.token}\n`);
          io.err(`kairos: token "${made.name}" (scope ${made.scope}${made.project ? `, project ${made.project}` : ''}) created; it is shown only now, so keep it safe\n`);
          printUsage(made, io, db ? null : p.globals.server);
        }
        return;
      }
      if (action === 'revoke') {
        const t = await ops.revoke(name ?? '');
        io.out(p.globals.json ? JSON.stringify(t, null, 2) + '\n' : `revoked token "${t.name}"\n`);
        return;
      }
      const tokens = await ops.list();
      if (p.globals.json) io.out(JSON.stringify(tokens, null, 2) + '\n');
      else if (tokens.length === 0) io.out('no tokens\n');
      else io.out(table(['NAME', 'SCOPE', 'PROJECT', 'CREATED', 'BY'], tokens.map((t) => [t.name, t.scope, t.project ?? '*', shortTime(t.created_at), t.created_by])));
    } finally {
      await db?.close();
    }
  },
};
