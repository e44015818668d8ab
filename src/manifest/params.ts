/**
 * Param values: typed in the manifest, parsed and checked before a run is created, handed to the process as
 * `KAIROS_PARAM_<NAME>` environment variables (never spliced into a shell string).
 */
import type { CompiledJob, ParamType, ParamValue } from '../model/job.js';
import { didYouMean, listNames, show } from './problems.js';

/** What each type accepts, as error messages and the reference page word it. */
export const PARAM_TYPE_EXPECTED: Readonly<Record<ParamType, string>> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  date: 'a date YYYY-MM-DD',
};

/** What a value given at run time may look like, by type (the reference page lists these). */
export const PARAM_TYPE_RULES: Readonly<Record<ParamType, string>> = {
  string: 'any text',
  integer: 'digits with an optional sign (`12`, `-3`); not `1.5` or `12abc`',
  number: 'a decimal number (`0.5`, `-3`, `1e-3`)',
  boolean: '`true`/`false`, `yes`/`no` or `1`/`0`, in any case',
  date: 'a calendar date `YYYY-MM-DD` that exists (not `2023-02-29`)',
};

export type ParamParse = { readonly ok: true; readonly value: ParamValue } | { readonly ok: false; readonly expected: string };

const INTEGER_TEXT = /^[+-]?\d+$/;
const NUMBER_TEXT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE_TEXT = /^(\d{4})-(\d{2})-(\d{2})$/;
const BOOLEAN_TEXT: Readonly<Record<string, boolean>> = { true: true, false: false, yes: true, no: false, '1': true, '0': false };

/** True for `YYYY-MM-DD` naming a day that exists (so not 2023-02-29 nor 2024-13-01). */
export function isCalendarDate(text: string): boolean {
  const m = DATE_TEXT.exec(text);
  if (m === null) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses one value for a param of `type`.
 * - `strict` is for the manifest (`default`, `enum`): YAML already typed the value, so `"5"` is not an integer.
 * - `loose` is for values given at run time: strings from the CLI (`-p n=5`) are parsed by type
 *   (booleans also as 1/0/yes/no), JSON values from the API are taken as they are.
 */
export function parseParamValue(type: ParamType, raw: unknown, mode: 'strict' | 'loose'): ParamParse {
  const fail: ParamParse = { ok: false, expected: PARAM_TYPE_EXPECTED[type] };
  const loose = mode === 'loose';
  switch (type) {
    case 'string':
      if (typeof raw === 'string') return { ok: true, value: raw };
      if (loose && ((typeof raw === 'number' && Number.isFinite(raw)) || typeof raw === 'boolean')) return { ok: true, value: String(raw) };
      return fail;
    case 'integer':
      if (typeof raw === 'number') return Number.isSafeInteger(raw) ? { ok: true, value: raw } : fail;
      if (loose && typeof raw === 'string' && INTEGER_TEXT.test(raw) && Number.isSafeInteger(Number(raw))) return { ok: true, value: Number(raw) };
      return fail;
    case 'number':
      if (typeof raw === 'number') return Number.isFinite(raw) ? { ok: true, value: raw } : fail;
      if (loose && typeof raw === 'string' && NUMBER_TEXT.test(raw) && Number.isFinite(Number(raw))) return { ok: true, value: Number(raw) };
      return fail;
    case 'boolean':
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      if (loose && (typeof raw === 'string' || raw === 0 || raw === 1)) {
        const b = BOOLEAN_TEXT[String(raw).toLowerCase()];
        if (b !== undefined) return { ok: true, value: b };
      }
      return fail;
    case 'date':
      return typeof raw === 'string' && isCalendarDate(raw) ? { ok: true, value: raw } : fail;
    default:
      return assertNever(type);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected param type ${String(x)}`);
}

export type ResolvedParams = { ok: true; values: Record<string, ParamValue> } | { ok: false; errors: string[] };

/**
 * The values a run of `job` gets: each given value parsed by its param's type and checked against its `enum`,
 * defaults applied, every problem reported (missing required params, unknown names with the closest known one).
 * Params with neither a value nor a default are left out.
 */
export function resolveParams(job: CompiledJob, given: Readonly<Record<string, unknown>>): ResolvedParams {
  const errors: string[] = [];
  const values = new Map<string, ParamValue>();
  const known = Object.keys(job.params);
  for (const [name, raw] of Object.entries(given)) {
    const spec = Object.hasOwn(job.params, name) ? job.params[name] : undefined;
    if (spec === undefined) {
      errors.push(
        known.length === 0
          ? `param "${name}": job "${job.name}" takes no params`
          : `param "${name}": unknown param${didYouMean(name, known, `known: ${listNames(known)}`)}`,
      );
      continue;
    }
    if (raw === undefined) continue;
    if (typeof raw === 'string' && raw.includes('\0')) {
      // A run's params become environment variables, which cannot hold NUL: refused before a run exists.
      errors.push(`param "${name}": contains a NUL character (\\u0000), which an environment variable cannot hold`);
      continue;
    }
    const parsed = parseParamValue(spec.type, raw, 'loose');
    if (!parsed.ok) {
      errors.push(`param "${name}": expected ${parsed.expected}, got ${show(raw)}`);
      continue;
    }
    if (spec.enum !== undefined && !spec.enum.includes(parsed.value)) {
      const hint = typeof parsed.value === 'string' ? didYouMean(parsed.value, spec.enum.map(String)) : '';
      errors.push(`param "${name}": expected one of ${spec.enum.map(show).join(', ')}, got ${show(parsed.value)}${hint}`);
      continue;
    }
    values.set(name, parsed.value);
  }
  for (const [name, spec] of Object.entries(job.params)) {
    if (values.has(name) || (Object.hasOwn(given, name) && given[name] !== undefined)) continue;
    if (spec.default !== undefined) values.set(name, spec.default);
    else if (spec.required) errors.push(`param "${name}": required, but no value was given`);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, values: Object.fromEntries(values) };
}

/** The text a param value has in the run's environment (dates stay `YYYY-MM-DD`, booleans `true`/`false`), and its name. */
export { paramEnvValue, paramEnvName } from '../model/run-env.js';
