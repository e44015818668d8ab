import { join, resolve } from 'node:path';
import { KairosClient, type TokenView } from '../api/client.js';
import { createToken, listTokens, revokeToken, tokenView } from '../control/tokens.js';
import { openSqlite, type Db } from '../store/db.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { shortTime, table, UsageError } from './output.js';

const USAGE = 'token create NAME --scope read|run|deploy|admin|worker [--project P] | token list | token revoke NAME   [--data DIR | --db sqlite:PATH] [--json]';

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

interface TokenOps {
  create(name: string, scope: string, project: string | null): Promise<TokenView & { token: string }>;
  revoke(name: string): Promise<TokenView>;
  list(): Promise<TokenView[]>;
}

function direct(db: Db): TokenOps {
  return {
    create: async (name, scope, project) => {
      const r = await createToken(db, { name, scope, project, createdBy: 'local' });
      return { ...tokenView(r.row), token: r.token };
    },
    revoke: async (name) => tokenView(await revokeToken(db, name, null)),
    list: async () => (await listTokens(db, null)).map(tokenView),
  };
}

function remote(client: KairosClient): TokenOps {
  return {
    create: (name, scope, project) => client.createToken(name, scope, project),
    revoke: (name) => client.revokeToken(name),
    list: async () => (await client.listTokens()).tokens,
  };
}

export const tokenCommand: Command = {
  name: 'token',
  summary: 'API tokens: create (printed once), list, revoke',
  usage: USAGE,
  options: { scope: { type: 'string' }, project: { type: 'string' }, data: { type: 'string' }, db: { type: 'string' } },
  positionals: { min: 1, max: 2 },
  async run(p, { io }) {
    const [action, name] = p.positionals;
    if (action !== 'create' && action !== 'list' && action !== 'revoke') throw new UsageError(`unknown action "${action ?? ''}"\nusage: kairos ${USAGE}`);
    if (action !== 'list' && !name) throw new UsageError(`missing token NAME\nusage: kairos ${USAGE}`);
    if (action === 'list' && name) throw new UsageError(`unexpected argument "${name}"\nusage: kairos ${USAGE}`);
    if (action === 'create' && !stringOption(p.values.scope)) throw new UsageError('--scope is required: read, run, deploy, admin or worker');
    const db = await openDirect(p.values);
    // One set of operations, on the database directly or through the server.
    const ops: TokenOps = db ? direct(db) : remote(new KairosClient(p.globals.server, p.globals.token));
    try {
      if (action === 'create') {
        const made = await ops.create(name ?? '', stringOption(p.values.scope) ?? '', stringOption(p.values.project) ?? null);
        if (p.globals.json) io.out(JSON.stringify(made, null, 2) + '\n');
        else {
          io.out(`${made.token}\n`);
          io.err(`kairos: token "${made.name}" (scope ${made.scope}${made.project ? `, project ${made.project}` : ''}) created; it is shown only now, so keep it safe\n`);
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
