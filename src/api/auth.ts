/**
 * Who is calling, and may they. One middleware authenticates every /api request (a stored token, the
 * server's bootstrap token, or nobody when the server has no auth at all), checks the scope the route
 * table (scopes.ts) asks for, and remembers the caller for the handlers, which use the helpers below to
 * keep a project-limited token inside its project: another project's objects answer exactly like objects
 * that do not exist.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { lookupToken, tokensExist } from '../control/tokens.js';
import { KairosError } from '../model/errors.js';
import { allows, type Principal } from '../model/scopes.js';
import type { Db } from '../store/db.js';
import { unavailableReason } from '../store/availability.js';
import { requiredScope } from './scopes.js';

const principals = new WeakMap<Request, Principal>();

export const BOOTSTRAP: Principal = { name: 'bootstrap', scope: 'admin', project: null };
/** Everyone, on a loopback server that has no token of any kind. */
export const LOCAL: Principal = { name: 'local', scope: 'admin', project: null };

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface AuthOptions {
  readonly db: Db;
  /** The server's `--token` / KAIROS_TOKEN: an admin token that is never stored. */
  readonly bootstrapToken: string | null;
}

/**
 * Who an `Authorization` header names: a stored token, the bootstrap token, everyone (LOCAL) on a server
 * that has no token of any kind, or null (missing, unknown or revoked). Shared by the API and the service
 * relay (src/api/services.ts).
 */
export type Authenticate = (authorization: string) => Promise<Principal | null>;

export function createAuthenticator(opts: AuthOptions): Authenticate {
  // Once a token has been stored, every request needs one. Checked at most once a second until then, so a
  // token created directly on the database (`kairos token create --data`) takes effect within a second.
  let enforced = Boolean(opts.bootstrapToken);
  let checkedAt = 0;
  const mustAuthenticate = async (): Promise<boolean> => {
    if (enforced) return true;
    const now = Date.now();
    if (now - checkedAt < 1000) return false;
    checkedAt = now;
    try {
      enforced = await tokensExist(opts.db);
    } catch (err) {
      // The database is unavailable: no token can have been stored meanwhile either; keep what we knew.
      if (unavailableReason(err) === null) throw err;
    }
    return enforced;
  };
  return async (header) => {
    if (!(await mustAuthenticate())) return LOCAL;
    const m = /^Bearer (\S+)$/.exec(header);
    const sent = m?.[1] ?? '';
    if (sent === '') return null;
    if (opts.bootstrapToken && sameSecret(sent, opts.bootstrapToken)) return BOOTSTRAP;
    return lookupToken(opts.db, sent);
  };
}

export function authMiddleware(opts: AuthOptions): MiddlewareHandler {
  const authenticate = createAuthenticator(opts);
  return async (c, next) => {
    if (c.req.query('token') !== undefined || c.req.query('access_token') !== undefined) {
      throw new KairosError('unauthorized', 'tokens are not accepted in the URL; send "Authorization: Bearer <token>"');
    }
    const principal = await authenticate(c.req.header('authorization') ?? '');
    if (!principal) throw new KairosError('unauthorized', 'a valid token is required (Authorization: Bearer <token>); it is missing, unknown or revoked');
    const need = requiredScope(c.req.method, c.req.path);
    if (!allows(principal.scope, need)) {
      throw new KairosError('forbidden', `token "${principal.name}" has scope ${principal.scope}; ${c.req.method} ${c.req.path} needs ${need}`);
    }
    if (need === 'worker' && principal.project !== null) throw new KairosError('forbidden', `token "${principal.name}" is limited to project ${principal.project}; the worker protocol serves every project`);
    // Every route under a run (present and future: logs, outputs, downloads…) keeps a project-limited token
    // inside its project here, whatever its handler does: another project's run is a run that does not exist.
    const runPath = /^\/api\/v1\/runs\/([^/]+)(?:\/|$)/.exec(c.req.path);
    if (principal.project !== null && runPath) {
      const raw = runPath[1] ?? '';
      let id = raw;
      try {
        id = decodeURIComponent(raw);
      } catch {
        // not percent-encoded text: no run has such an id
      }
      const run = await opts.db.kysely.selectFrom('runs').select('project').where('id', '=', id).executeTakeFirst();
      if (run && run.project !== principal.project) throw new KairosError('not_found', `run ${id} not found`);
    }
    principals.set(c.req.raw, principal);
    await next();
  };
}

export function principalOf(c: Context): Principal {
  const p = principals.get(c.req.raw);
  if (!p) throw new KairosError('internal', 'request was not authenticated');
  return p;
}

/** Whether the caller may see objects of `project`. */
export function sees(c: Context, project: string): boolean {
  const p = principalOf(c);
  return p.project === null || p.project === project;
}

/**
 * The project filter of a listing: the caller's own project when limited (a request for another project
 * gets an empty listing, as for a project that does not exist), else what was asked.
 * Returns `false` when nothing can match.
 */
export function listingProject(c: Context, asked: string | undefined): string | undefined | false {
  const p = principalOf(c);
  if (p.project === null) return asked;
  if (asked !== undefined && asked !== '' && asked !== p.project) return false;
  return p.project;
}
