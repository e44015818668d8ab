/**
 * Secrets of a project: set, list (names only), delete, and opening the ones a run's job names when the run
 * is claimed. Values are sealed with the server's key (./secret-box.ts) before they reach the database and
 * leave the control plane only inside an assignment, to the worker that holds the attempt's lease.
 */
import { NAME_RULES } from '../manifest/fields.js';
import { KairosError } from '../model/errors.js';
import type { Q } from '../store/runs.js';
import type { Ctx } from './context.js';
import { loadPreviousKey, loadSecretKey, open, seal, type SecretKey } from './secret-box.js';

/** Env-var-like, and not one of Kairos' own variables (those would override it in the run anyway). */
export const SECRET_NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
/** Shorter values cannot be masked in logs without masking half of every log: refused. */
export const MIN_SECRET_CHARS = 4;
export const MAX_SECRET_BYTES = 64 * 1024;

export interface SecretView {
  readonly project: string;
  readonly name: string;
  readonly created_at: string;
  readonly updated_at: string;
  /** Fingerprint of the key that sealed it (not the key): after a rotation, every secret shows the new one. */
  readonly key_id: string;
}

const keys = new WeakMap<Ctx, { current: SecretKey; previous: SecretKey | null }>();

function keyring(ctx: Ctx): { current: SecretKey; previous: SecretKey | null } {
  let ring = keys.get(ctx);
  if (!ring) {
    const current = loadSecretKey(ctx.settings.dataDir);
    const previous = loadPreviousKey(ctx.settings.dataDir);
    ring = { current, previous: previous && previous.id !== current.id ? previous : null };
    keys.set(ctx, ring);
  }
  return ring;
}

/** The control plane's key, loaded (or generated) once. Throws a clear error for a bad key. */
export function secretKey(ctx: Ctx): SecretKey {
  return keyring(ctx).current;
}

/**
 * Seals again with the current key every secret sealed with the previous one (a rotation); returns how many.
 * Secrets sealed with neither are left alone (they fail, with that reason, when a run needs them).
 */
export async function resealSecrets(ctx: Ctx): Promise<number> {
  const { current, previous } = keyring(ctx);
  if (!previous) return 0;
  return ctx.db.tx(async (trx) => {
    const rows = await trx.selectFrom('secrets').select(['project', 'name', 'sealed']).where('key_id', '=', previous.id).execute();
    for (const r of rows) {
      let value: string;
      try {
        value = open(previous, r.project, r.name, r.sealed);
      } catch {
        throw new KairosError('internal', `rotating the secret key: secret ${r.name} of project ${r.project} is damaged (authentication failed); nothing was sealed again`);
      }
      const sealed = seal(current, r.project, r.name, value);
      await trx.updateTable('secrets').set({ sealed, key_id: current.id }).where('project', '=', r.project).where('name', '=', r.name).execute();
    }
    return rows.length;
  });
}

export function checkSecretName(name: string): void {
  if (!SECRET_NAME.test(name)) throw new KairosError('invalid_input', `"${name.slice(0, 140)}" is not a valid secret name: use ${NAME_RULES.secret.rule}, at most 128 characters (like an environment variable, e.g. DB_PASSWORD)`);
  if (name.startsWith('KAIROS_')) throw new KairosError('invalid_input', `"${name}" is not a valid secret name: names starting with KAIROS_ are Kairos' own variables`);
}

export function checkProjectName(project: string): void {
  if (!NAME_RULES.project.pattern.test(project)) throw new KairosError('invalid_input', `"${project.slice(0, 140)}" is not a valid project name: use ${NAME_RULES.project.rule}`);
}

/** Checks a value without ever quoting it. */
export function checkSecretValue(value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new KairosError('invalid_input', 'field "value" (the secret\'s value, a string) is required');
  if ([...value].length < MIN_SECRET_CHARS) throw new KairosError('invalid_input', `the secret's value is too short: at least ${MIN_SECRET_CHARS} characters (shorter values cannot be masked in logs)`);
  if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw new KairosError('invalid_input', `the secret's value is too long: at most ${MAX_SECRET_BYTES} bytes`);
  if (value.includes('\0')) throw new KairosError('invalid_input', "the secret's value contains a NUL character, which cannot be passed in an environment variable");
}

function view(r: { project: string; name: string; created_at: number; updated_at: number; key_id: string }): SecretView {
  return { project: r.project, name: r.name, created_at: new Date(Number(r.created_at)).toISOString(), updated_at: new Date(Number(r.updated_at)).toISOString(), key_id: r.key_id };
}

/** Sets (creates or replaces) a secret. */
export async function setSecret(ctx: Ctx, project: string, name: string, value: unknown): Promise<{ secret: SecretView; created: boolean }> {
  checkProjectName(project);
  checkSecretName(name);
  checkSecretValue(value);
  const key = secretKey(ctx);
  const sealed = seal(key, project, name, value);
  return ctx.db.tx(async (trx) => {
    const now = ctx.now();
    const existing = await trx.selectFrom('secrets').select('created_at').where('project', '=', project).where('name', '=', name).executeTakeFirst();
    if (existing) {
      await trx.updateTable('secrets').set({ sealed, key_id: key.id, updated_at: now }).where('project', '=', project).where('name', '=', name).execute();
      return { secret: view({ project, name, created_at: existing.created_at, updated_at: now, key_id: key.id }), created: false };
    }
    await trx.insertInto('secrets').values({ project, name, sealed, key_id: key.id, created_at: now, updated_at: now }).execute();
    return { secret: view({ project, name, created_at: now, updated_at: now, key_id: key.id }), created: true };
  });
}

/** Names, never values. */
export async function listSecrets(ctx: Ctx, project?: string): Promise<SecretView[]> {
  if (project !== undefined) checkProjectName(project);
  let q = ctx.db.kysely.selectFrom('secrets').select(['project', 'name', 'created_at', 'updated_at', 'key_id']).orderBy('project').orderBy('name');
  if (project !== undefined) q = q.where('project', '=', project);
  return (await q.execute()).map(view);
}

export async function deleteSecret(ctx: Ctx, project: string, name: string): Promise<void> {
  checkProjectName(project);
  checkSecretName(name);
  const r = await ctx.db.tx((trx) => trx.deleteFrom('secrets').where('project', '=', project).where('name', '=', name).executeTakeFirst());
  if (Number(r.numDeletedRows) === 0) throw new KairosError('not_found', `secret ${name} is not set in project ${project}`);
}

export type RunSecrets = { readonly ok: true; readonly values: Readonly<Record<string, string>> } | { readonly ok: false; readonly reason: string };

/**
 * Opens the secrets a job names, for an attempt being claimed (inside the claim's transaction). A missing or
 * unreadable secret fails the attempt with a reason that names it (never its value).
 */
export async function openRunSecrets(ctx: Ctx, trx: Q, project: string, names: readonly string[]): Promise<RunSecrets> {
  if (names.length === 0) return { ok: true, values: {} };
  const rows = await trx.selectFrom('secrets').select(['name', 'sealed', 'key_id']).where('project', '=', project).where('name', 'in', [...names]).execute();
  const byName = new Map(rows.map((r) => [r.name, r]));
  let key: SecretKey;
  let previous: SecretKey | null;
  try {
    ({ current: key, previous } = keyring(ctx));
  } catch (err) {
    return { ok: false, reason: `secrets cannot be opened: ${(err as Error).message}` };
  }
  const values: Record<string, string> = {};
  for (const name of names) {
    const row = byName.get(name);
    if (!row) return { ok: false, reason: `secret ${name} is not set in project ${project} (kairos secret set ${name} --project ${project})` };
    try {
      // During a rotation, a secret not yet sealed again opens with the previous key.
      values[name] = previous && row.key_id === previous.id ? open(previous, project, name, row.sealed) : open(key, project, name, row.sealed);
    } catch {
      const why = row.key_id !== key.id ? `it was sealed with another key (${row.key_id}; the server now has ${key.id} from ${key.source})` : 'it is damaged (authentication failed)';
      return { ok: false, reason: `secret ${name} of project ${project} cannot be opened: ${why}; set it again` };
    }
  }
  return { ok: true, values };
}
