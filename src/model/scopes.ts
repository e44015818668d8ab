/**
 * Token scopes. `read < run < deploy < admin` is one ladder: each includes the one below. `worker` stands
 * beside it: it allows the worker protocol (claims, leases, bundles) and nothing else, so a machine that only
 * runs jobs cannot read other projects' runs or deploy; `admin` includes `worker`. `publish` also stands
 * beside it: it reads the package index and uploads and yanks packages (optionally only names with given
 * prefixes), and nothing else; `admin` includes it.
 */
export const SCOPES = ['read', 'run', 'deploy', 'admin', 'worker', 'publish'] as const;
export type Scope = (typeof SCOPES)[number];

/** What a route needs: a scope, or `any` (any valid token: health, the API description). */
export type Need = Scope | 'any';

const LADDER: Readonly<Record<Exclude<Scope, 'worker' | 'publish'>, number>> = { read: 0, run: 1, deploy: 2, admin: 3 };

export function isScope(s: unknown): s is Scope {
  return typeof s === 'string' && (SCOPES as readonly string[]).includes(s);
}

/** Whether a token of scope `have` may use a route that needs `need`. */
export function allows(have: Scope, need: Need): boolean {
  if (need === 'any') return true;
  if (need === 'worker') return have === 'worker' || have === 'admin';
  if (need === 'publish') return have === 'publish' || have === 'admin';
  if (have === 'worker' || have === 'publish') return false;
  return LADDER[have] >= LADDER[need];
}

/** Who is calling: a stored token, the server's bootstrap token, or everyone (no auth configured). */
export interface Principal {
  /** Token name; "bootstrap" for the server's --token; "local" when the server has no auth. */
  readonly name: string;
  readonly scope: Scope;
  /** Set when the token only sees and acts on one project. */
  readonly project: string | null;
}
