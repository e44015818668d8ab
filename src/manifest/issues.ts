/**
 * zod issues → manifest problems: each placed at the node it is about (the key for unknown keys and bad
 * names, the value for bad values, the enclosing mapping for missing keys) and worded as "expected X, got Y"
 * from the field's registered description of what it accepts (fields.ts).
 */
import * as z from 'zod';
import type { ManifestProblem } from './types.js';
import { fieldInfo, isRecord, type CheckProblem, type FieldInfo } from './fields.js';
import { PROBLEM_CODES, didYouMean, show, type ProblemCode } from './problems.js';
import { dotted, type DataPath, type YamlSource } from './yaml-source.js';

type Issue = z.core.$ZodIssue;

/** Optional and similar wrappers hide the schema that describes the value. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  return s;
}

/** The branch of a union that the value's kind selects (a list → the list branch, and so on). */
function branchFor(union: z.ZodUnion, value: unknown): z.ZodType | undefined {
  const options = (union.options as readonly z.ZodType[]).map(unwrap);
  const fits = (s: z.ZodType) =>
    Array.isArray(value) ? s instanceof z.ZodArray : isRecord(value) ? s instanceof z.ZodObject || s instanceof z.ZodRecord : !(s instanceof z.ZodArray || s instanceof z.ZodObject || s instanceof z.ZodRecord);
  return options.find(fits);
}

function child(schema: z.ZodType, key: PropertyKey, value: unknown): z.ZodType | undefined {
  let s = unwrap(schema);
  if (s instanceof z.ZodUnion) {
    const branch = branchFor(s, value);
    if (branch === undefined) return undefined;
    s = branch;
  }
  if (s instanceof z.ZodObject) return (s.shape as Record<string, z.ZodType>)[String(key)];
  if (s instanceof z.ZodRecord) return s.valueType as z.ZodType;
  if (s instanceof z.ZodArray) return s.element as z.ZodType;
  return undefined;
}

/** The schema that describes the node at `path` of `data`, following the data through unions. */
export function schemaAt(root: z.ZodType, path: DataPath, data: unknown): z.ZodType | undefined {
  let s: z.ZodType | undefined = root;
  let value = data;
  for (const key of path) {
    if (s === undefined) return undefined;
    s = child(s, key, value);
    value = isRecord(value) || Array.isArray(value) ? (value as Record<string, unknown>)[String(key)] : undefined;
  }
  return s === undefined ? undefined : unwrap(s);
}

export function valueAt(data: unknown, path: DataPath): unknown {
  let value = data;
  for (const key of path) {
    if (!(isRecord(value) || Array.isArray(value))) return undefined;
    value = Object.hasOwn(value, String(key)) ? (value as Record<string, unknown>)[String(key)] : undefined;
  }
  return value;
}

function infoAt(root: z.ZodType, path: DataPath, data: unknown): FieldInfo {
  const s = schemaAt(root, path, data);
  if (s === undefined) return {};
  const own = fieldInfo.get(s) ?? {};
  if (own.expected !== undefined || !(s instanceof z.ZodUnion)) return own;
  const branch = branchFor(s, valueAt(data, path));
  return { ...(branch === undefined ? {} : (fieldInfo.get(branch) ?? {})), ...own };
}

const GENERIC_EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function isProblemCode(v: unknown): v is ProblemCode {
  return typeof v === 'string' && Object.hasOwn(PROBLEM_CODES, v);
}

/** A branch of a union "matched" when it got past the type check of the value itself. */
function branchMatched(issues: readonly Issue[]): boolean {
  return !issues.every((i) => i.path.length === 0 && i.code === 'invalid_type');
}

export function problemsFromIssues(issues: readonly Issue[], root: z.ZodType, source: YamlSource, file: string): ManifestProblem[] {
  const data = source.data;
  const out: ManifestProblem[] = [];
  const push = (path: DataPath, at: 'key' | 'value', code: ProblemCode, message: string) =>
    out.push({ file, ...source.position(path, at), path: dotted(path), code, message });

  const leaf = (path: DataPath, issue: Issue) => {
    const value = valueAt(data, path);
    const info = infoAt(root, path, data);
    const parent = path.slice(0, -1);
    const last = path[path.length - 1];
    if (value === undefined && last !== undefined) {
      const container = valueAt(data, parent);
      if (!isRecord(container) || !Object.hasOwn(container, String(last))) {
        const what = info.expected === undefined ? '' : ` (${info.expected})`;
        push(parent, 'value', 'missing_key', `missing required key "${String(last)}"${what}`);
        return;
      }
    }
    const expected = info.expected ?? GENERIC_EXPECTED[issue.code === 'invalid_type' ? issue.expected : ''] ?? 'something else';
    const code = info.code ?? (issue.code === 'invalid_type' ? 'invalid_type' : 'invalid_value');
    const hint = issue.code === 'invalid_value' && typeof value === 'string' ? didYouMean(value, issue.values.map(String)) : '';
    push(path, 'value', code, `expected ${expected}, got ${show(value)}${hint}`);
  };

  const visit = (issue: Issue, prefix: DataPath) => {
    const path = [...prefix, ...issue.path];
    switch (issue.code) {
      case 'unrecognized_keys': {
        const s = schemaAt(root, path, data);
        const allowed = s instanceof z.ZodObject ? Object.keys(s.shape as object) : [];
        for (const key of issue.keys) {
          const value = valueAt(data, [...path, key]);
          const jobHint = path.length === 0 && isRecord(value) && 'run' in value ? `; if "${key}" is a job, put it under "jobs"` : '';
          push([...path, key], 'key', 'unknown_key', `unknown key "${key}"${didYouMean(key, allowed)}${jobHint}; allowed: ${allowed.join(', ')}`);
        }
        return;
      }
      case 'invalid_union': {
        const matched = issue.errors.find(branchMatched);
        if (matched === undefined) leaf(path, issue);
        else for (const inner of matched) visit(inner, path);
        return;
      }
      case 'custom': {
        const params = (issue.params ?? {}) as Partial<CheckProblem>;
        if (isProblemCode(params.code)) {
          push(path, params.at ?? 'value', params.code, issue.message);
          return;
        }
        leaf(path, issue);
        return;
      }
      case 'invalid_key':
      case 'invalid_element':
        for (const inner of issue.issues) visit(inner, path);
        return;
      default:
        leaf(path, issue);
    }
  };
  for (const issue of issues) visit(issue, []);
  return out;
}
