/**
 * Who may read and publish on the index. pip and twine send the token as HTTP basic auth (user `__token__`,
 * password the token), so the index takes that besides `Authorization: Bearer`. Reading needs a token of
 * any scope that reads (`read` and up, `worker`, `publish`) once the server has tokens; uploading and
 * yanking need `publish` (or `admin`), and a publish token may be limited to names with given prefixes.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Context } from 'hono';
import { hashToken, lookupToken, tokensExist } from '../control/tokens.js';
import { BOOTSTRAP, LOCAL } from '../api/auth.js';
import type { Principal } from '../model/scopes.js';
import type { Db } from '../store/db.js';
import { normalize } from './names.js';

export interface IndexPrincipal extends Principal {
  /** Normalized name prefixes a publish token is limited to; null: every name. */
  readonly packages: readonly string[] | null;
}

export class IndexAuthError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token a request carries: bearer, or the password of basic auth. */
export function sentToken(header: string): string | null {
  const bearer = /^Bearer (\S+)$/i.exec(header);
  if (bearer?.[1]) return bearer[1];
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!basic?.[1]) return null;
  const text = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  const pass = colon < 0 ? '' : text.slice(colon + 1);
  return pass === '' ? null : pass;
}

export function parsePrefixes(s: string | null | undefined): string[] | null {
  if (s === null || s === undefined || s.trim() === '') return null;
  return s.split(',').map((p) => normalize(p.trim())).filter((p) => p !== '');
}

export class IndexAuth {
  private enforced: boolean;
  private checkedAt = 0;

  constructor(
    private readonly db: Db,
    private readonly bootstrapToken: string | null,
    /** Tokens this process hands its own worker (never stored): read-only. */
    private readonly internalTokens: readonly string[] = [],
  ) {
    this.enforced = Boolean(bootstrapToken);
  }

  private async mustAuthenticate(): Promise<boolean> {
    if (this.enforced) return true;
    const now = Date.now();
    if (now - this.checkedAt < 1000) return false;
    this.checkedAt = now;
    this.enforced = await tokensExist(this.db);
    return this.enforced;
  }

  async principal(c: Context): Promise<IndexPrincipal> {
    if (!(await this.mustAuthenticate())) return { ...LOCAL, packages: null };
    const sent = sentToken(c.req.header('authorization') ?? '');
    if (sent === null) throw new IndexAuthError(401, 'a token is required: pip: https://__token__:TOKEN@HOST/simple/ ; twine: -u __token__ -p TOKEN');
    if (this.bootstrapToken && same(sent, this.bootstrapToken)) return { ...BOOTSTRAP, packages: null };
    for (const t of this.internalTokens) if (same(sent, t)) return { name: 'worker-index', scope: 'read', project: null, packages: null };
    const p = await lookupToken(this.db, sent);
    if (!p) throw new IndexAuthError(401, 'the token is unknown or revoked');
    const row = await this.db.kysely.selectFrom('tokens').select('packages').where('hash', '=', hashToken(sent)).executeTakeFirst();
    return { ...p, packages: parsePrefixes(row?.packages) };
  }
}

/** Whether `p` may read the index. */
export function mayRead(p: Principal): boolean {
  return (p.scope === 'read' || p.scope === 'run' || p.scope === 'deploy' || p.scope === 'admin' || p.scope === 'worker' || p.scope === 'publish');
}

/** Whether `p` may upload or yank `project` (normalized). */
export function mayPublish(p: IndexPrincipal, project: string): boolean {
  if (p.scope !== 'publish' && p.scope !== 'admin') return false;
  return p.packages === null || p.packages.some((prefix) => normalize(project).startsWith(prefix));
}
