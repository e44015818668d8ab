/**
 * Stored API tokens. A token is 32 random bytes (base64url, prefixed `kairos_`) shown once at creation; the
 * store keeps only its SHA-256, so a copy of the database gives no usable token. A lookup hashes what the
 * client sent, finds the row by hash and compares the hashes in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Selectable } from 'kysely';
import { KairosError } from '../model/errors.js';
import { newId } from '../model/ids.js';
import { isScope, type Principal, type Scope } from '../model/scopes.js';
import type { Db } from '../store/db.js';
import type { TokensTable } from '../store/schema.js';

export type TokenRow = Selectable<TokensTable>;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const PROJECT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** Names the server gives to callers that are not stored tokens. */
const RESERVED = new Set(['bootstrap', 'local']);

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface NewToken {
  readonly name: string;
  readonly scope: string;
  readonly project?: string | null;
  /** Publish tokens: comma-separated package-name prefixes. */
  readonly packages?: string | null;
  readonly createdBy: string;
}

/** Creates a token; returns its row and the token itself (the only time it exists outside the client). */
export async function createToken(db: Db, t: NewToken): Promise<{ row: TokenRow; token: string }> {
  if (!NAME.test(t.name)) throw new KairosError('invalid_input', `token name must be 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit; got ${JSON.stringify(t.name)}`);
  if (RESERVED.has(t.name)) throw new KairosError('invalid_input', `token name "${t.name}" is reserved`);
  if (!isScope(t.scope)) throw new KairosError('invalid_input', `scope must be one of read, run, deploy, admin, worker, publish; got ${JSON.stringify(t.scope)}`);
  const project = t.project ?? null;
  if (project !== null && !PROJECT.test(project)) throw new KairosError('invalid_input', `project must be a project name; got ${JSON.stringify(project)}`);
  if (project !== null && t.scope === 'worker') throw new KairosError('invalid_input', 'a worker token serves every project; it cannot be limited with --project');
  const packages = t.packages === undefined || t.packages === null || t.packages.trim() === '' ? null : t.packages.split(',').map((s) => s.trim()).filter(Boolean).join(',');
  if (packages !== null && t.scope !== 'publish') throw new KairosError('invalid_input', '--packages limits a publish token; this token is not one');
  if (packages !== null && !packages.split(',').every((s) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(s))) throw new KairosError('invalid_input', 'packages must be comma-separated package-name prefixes');
  const token = 'kairos_' + randomBytes(32).toString('base64url');
  const now = db.clock.now();
  const row: TokenRow = { id: newId(now), name: t.name, hash: hashToken(token), scope: t.scope, project, created_at: now, created_by: t.createdBy, revoked_at: null, packages };
  await db.tx(async (trx) => {
    const clash = await trx.selectFrom('tokens').select('id').where('name', '=', t.name).where('revoked_at', 'is', null).executeTakeFirst();
    if (clash) throw new KairosError('conflict', `a token named "${t.name}" already exists; revoke it first or pick another name`);
    await trx.insertInto('tokens').values(row).execute();
  });
  return { row, token };
}

export async function listTokens(db: Db, project: string | null): Promise<TokenRow[]> {
  let q = db.kysely.selectFrom('tokens').selectAll().where('revoked_at', 'is', null);
  if (project !== null) q = q.where('project', '=', project);
  return q.orderBy('name').execute();
}

/** Revokes the live token `name` (seen through `project` when the caller is limited to one). */
export async function revokeToken(db: Db, name: string, project: string | null): Promise<TokenRow> {
  return db.tx(async (trx) => {
    let q = trx.selectFrom('tokens').selectAll().where('name', '=', name).where('revoked_at', 'is', null);
    if (project !== null) q = q.where('project', '=', project);
    const row = await q.executeTakeFirst();
    if (!row) throw new KairosError('not_found', `token "${name}" not found`);
    const now = db.clock.now();
    await trx.updateTable('tokens').set({ revoked_at: now }).where('id', '=', row.id).execute();
    return { ...row, revoked_at: now };
  });
}

/** The live token a client sent, or null. */
export async function lookupToken(db: Db, token: string): Promise<Principal | null> {
  const hash = hashToken(token);
  const row = await db.kysely.selectFrom('tokens').select(['name', 'hash', 'scope', 'project', 'revoked_at']).where('hash', '=', hash).executeTakeFirst();
  if (!row || row.revoked_at !== null) return null;
  if (!timingSafeEqual(Buffer.from(row.hash), Buffer.from(hash)) || !isScope(row.scope)) return null;
  return { name: row.name, scope: row.scope as Scope, project: row.project };
}

/** Whether any token was ever stored: from then on the server requires a token on every request. */
export async function tokensExist(db: Db): Promise<boolean> {
  return (await db.kysely.selectFrom('tokens').select('id').limit(1).executeTakeFirst()) !== undefined;
}

export function tokenView(r: TokenRow) {
  return { name: r.name, scope: r.scope, project: r.project, created_at: new Date(Number(r.created_at)).toISOString(), created_by: r.created_by, revoked_at: r.revoked_at === null ? null : new Date(Number(r.revoked_at)).toISOString(), ...(r.packages ? { packages: r.packages } : {}) };
}
