/**
 * Building blocks of the manifest schema (schema.ts): leaf value types with the words an error message uses
 * for them, name rules, and the helpers that attach documentation. Everything here is data for the one
 * schema definition; nothing here knows about YAML or positions.
 */
import path from 'node:path';
import * as z from 'zod';
import { isValidTimeZone, parseCron } from '../model/cron/index.js';
import { knownTimeZones, suggestTimeZone } from '../model/cron/suggest.js';
import { parseDuration } from '../model/duration.js';
import { show, type ProblemCode } from './problems.js';

/**
 * What an error message says is expected at a node (`expected an integer ≥ 0, got "three"`), the code a bad
 * value there gets (default `invalid_type` / `invalid_value`), and, for the reference page, how its default
 * reads when it is not a constant.
 */
export interface FieldInfo {
  readonly expected?: string;
  readonly code?: ProblemCode;
  readonly defaultText?: string;
  /** For a mapping keyed by names (jobs, params…): the placeholder the reference page uses (`<job>`) and the name rule. */
  readonly names?: { readonly placeholder: string; readonly rule: string };
}
/** Kept apart from zod's global registry so that none of this leaks into the JSON Schema. */
export const fieldInfo = z.registry<FieldInfo>();

/** Registers how errors name what `schema` accepts. Clones made later (`.meta`, `.describe`) inherit it. */
export function expecting<T extends z.ZodType>(schema: T, expected: string, code?: ProblemCode): T {
  fieldInfo.add(schema, code === undefined ? { expected } : { expected, code });
  return schema;
}

export interface Doc {
  readonly description: string;
  /** A constant default: shown in the JSON Schema and the reference page, applied by the compiler. */
  readonly default?: unknown;
  /** A default that depends on other keys, e.g. "`defaults.timezone`". */
  readonly defaultText?: string;
}

/** Attaches a key's documentation; the JSON Schema, the reference page and the init template all read it. */
export function documented<T extends z.ZodType>(schema: T, d: Doc): T {
  const withMeta = schema.meta(d.default === undefined ? { description: d.description } : { description: d.description, default: d.default });
  if (d.defaultText !== undefined) fieldInfo.add(withMeta, { defaultText: d.defaultText });
  return withMeta;
}

/** A problem found by a check inside the schema, carried to the YAML positions by issues.ts. */
export interface CheckProblem {
  readonly code: ProblemCode;
  /** Report at the key rather than at the value (names of jobs, params, env vars). */
  readonly at?: 'key';
}

type Ctx = z.core.$RefinementCtx;
export function report(ctx: Ctx, code: ProblemCode, message: string, pathTail: readonly PropertyKey[] = [], at?: 'key'): void {
  const params: CheckProblem = at === undefined ? { code } : { code, at };
  ctx.addIssue({ code: 'custom', message, params: { ...params }, path: [...pathTail] });
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- names -------------------------------------------------------------------------------------------------

export interface NameRule {
  readonly pattern: RegExp;
  /** Completes "… is not a valid NAME: use …". */
  readonly rule: string;
}
export const NAME_RULES = {
  project: { pattern: /^[a-z][a-z0-9_-]{0,62}$/, rule: 'a lower-case letter, then up to 62 lower-case letters, digits, "_" or "-"' },
  identifier: { pattern: /^[A-Za-z][A-Za-z0-9_-]{0,62}$/, rule: 'a letter, then up to 62 letters, digits, "_" or "-"' },
  variable: { pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, rule: 'letters, digits and "_", not starting with a digit' },
  secret: { pattern: /^[A-Z_][A-Z0-9_]*$/, rule: 'upper-case letters, digits and "_", not starting with a digit' },
  kernel: { pattern: /^[A-Za-z0-9._-]{1,64}$/, rule: 'up to 64 letters, digits, ".", "_" or "-" (a Jupyter kernel name)' },
} as const satisfies Record<string, NameRule>;

/** A string value that must be a name (the project, a secret). */
export function nameValue(what: string, rule: NameRule): z.ZodString {
  return expecting(z.string().regex(rule.pattern), `${what}: ${rule.rule}`, 'invalid_name');
}

/**
 * A mapping from names to `value`s. Names are checked by a refinement that runs even when some values are bad,
 * so that a bad job name and a typo inside that job are both reported at once (a zod key schema would skip
 * the value). `more` adds checks over all the names (collisions, reserved prefixes).
 */
export function namedMap<V extends z.ZodType>(
  what: string,
  rule: NameRule,
  value: V,
  more?: (names: readonly string[], ctx: Ctx) => void,
): z.ZodRecord<z.ZodString, V> {
  const map = expecting(z.record(z.string(), value), `a mapping keyed by ${what} name`);
  fieldInfo.add(map, { ...fieldInfo.get(map), names: { placeholder: `<${what.replaceAll(' ', '-')}>`, rule: rule.rule } });
  return map
    .superRefine(
      (map, ctx) => {
        if (!isRecord(map)) return;
        const names = Object.keys(map);
        for (const name of names) {
          if (!rule.pattern.test(name)) report(ctx, 'invalid_name', `${what} name "${name}" is not valid: use ${rule.rule}`, [name], 'key');
        }
        more?.(names, ctx);
      },
      { when: (payload) => isRecord(payload.value) },
    )
    .meta({ propertyNames: { pattern: rule.pattern.source } });
}

// ---- durations ---------------------------------------------------------------------------------------------

/** Mirrors src/model/duration.ts, which does the parsing; a test keeps the two in agreement. */
export const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
export const DURATION_FORMS = '30s, 10m, 2h or 1h30m (units ms, s, m, h, d)';
export const DURATION_EXPECTED = `a duration such as ${DURATION_FORMS}`;

export function durationValue(options: { readonly positive?: boolean } = {}): z.ZodString {
  const base = z.string().regex(DURATION_PATTERN);
  const checked = options.positive
    ? base.superRefine((v, ctx) => {
        if (parseDuration(v) === 0) report(ctx, 'invalid_duration', `expected a duration longer than 0, got ${show(v)}`);
      })
    : base;
  return expecting(checked, DURATION_EXPECTED, 'invalid_duration');
}

// ---- sizes -------------------------------------------------------------------------------------------------

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40,
};
export const SIZE_PATTERN = /^(\d+(?:\.\d+)?)(k|K|M|G|T|Ki|Mi|Gi|Ti)?$/;
export const SIZE_FORMS = '512Mi, 2Gi (powers of 1024), 1G, 100M (powers of 1000) or a number of bytes';
export const SIZE_EXPECTED = `a size such as ${SIZE_FORMS}`;

/** Bytes, or null when `value` is not a size. */
export function parseSize(value: string | number): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  const m = SIZE_PATTERN.exec(value);
  if (m === null) return null;
  return Math.round(Number(m[1]) * (SIZE_UNITS[m[2] ?? ''] ?? 1));
}

export function sizeValue(): z.ZodUnion<[z.ZodNumber, z.ZodString]> {
  const text = z.string().regex(SIZE_PATTERN).superRefine((v, ctx) => {
    if (parseSize(v) === 0) report(ctx, 'invalid_size', `expected a size larger than 0, got ${show(v)}`);
  });
  return expecting(z.union([z.int().min(1), text]), SIZE_EXPECTED, 'invalid_size');
}

// ---- cron and time zones -----------------------------------------------------------------------------------

export const CRON_EXPECTED = 'a cron expression: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first';

export function cronValue(): z.ZodString {
  const checked = z.string().superRefine((expr, ctx) => {
    const parsed = parseCron(expr);
    if (parsed.ok) return;
    const { field, message } = parsed.error;
    report(
      ctx,
      'invalid_cron',
      field === 'expression' ? `invalid cron expression ${show(expr)}: ${message}` : `invalid cron expression ${show(expr)}: ${field} field: ${message}`,
    );
  });
  return expecting(checked, CRON_EXPECTED, 'invalid_cron');
}


/** `; did you mean "America/Los_Angeles"? use an IANA name …` (by alias and city first, spelling last). */
export function zoneHint(zone: string): string {
  const s = suggestTimeZone(zone, knownTimeZones());
  return `${s ? `; did you mean "${s}"?` : ';'} use an IANA name such as "Europe/Paris" or "UTC"`;
}

export function timeZoneValue(): z.ZodString {
  const checked = z.string().superRefine((zone, ctx) => {
    if (isValidTimeZone(zone)) return;
    report(ctx, 'invalid_timezone', `unknown time zone ${show(zone)}${zoneHint(zone)}`);
  });
  return expecting(checked, 'an IANA time zone such as "Europe/Paris" or "UTC"', 'invalid_timezone');
}

// ---- paths -------------------------------------------------------------------------------------------------

/** `workdir` as the compiler stores it: normalised, relative, null for the project root itself. */
export function normaliseWorkdir(dir: string): string | null {
  const n = path.posix.normalize(dir.replaceAll('\\', '/')).replace(/\/+$/, '');
  return n === '.' || n === '' ? null : n;
}

export function relativePathValue(): z.ZodString {
  const checked = z.string().min(1).superRefine((dir, ctx) => {
    if (path.posix.isAbsolute(dir) || path.win32.isAbsolute(dir)) {
      report(ctx, 'invalid_path', `expected a path relative to the project directory, got the absolute path ${show(dir)}`);
      return;
    }
    const n = normaliseWorkdir(dir);
    if (n !== null && (n === '..' || n.startsWith('../'))) {
      report(ctx, 'invalid_path', `${show(dir)} leaves the project directory; use a path inside it`);
    }
  });
  return expecting(checked, 'a path relative to the project directory, such as "src" or "jobs/train"', 'invalid_path');
}
