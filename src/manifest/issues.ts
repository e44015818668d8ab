/**
 * zod issues → manifest problems: each placed at the node it is about (the key for unknown keys and bad
 * names, the value for bad values, the enclosing mapping for missing keys) and worded as "expected X, got Y"
 * from the field's registered description of what it accepts (fields.ts).
 */
import * as z from 'zod';
import type { ManifestProblem } from '../model/job.js';
import { fieldInfo, isRecord, type CheckProblem, type FieldInfo } from './fields.js';
import { PROBLEM_CODES, didYouMean, show, type ProblemCode } from './problems.js';
import { branchFor, schemaAt, valueAt } from './navigate.js';
import { dotted, type DataPath, type YamlSource } from './yaml-source.js';

type Issue = z.core.$ZodIssue;

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
        const what = info.expected === undefined ? '' : `: ${info.expected}`;
        push(parent, 'value', 'missing_key', `missing required key "${String(last)}"${what}`);
        return;
      }
    }
    const expected = info.expected ?? GENERIC_EXPECTED[issue.code === 'invalid_type' ? issue.expected : ''] ?? 'something else';
    const wrongKind = issue.code === 'invalid_type' || issue.code === 'invalid_union';
    const code = info.code ?? (wrongKind ? 'invalid_type' : 'invalid_value');
    const hint = issue.code === 'invalid_value' && typeof value === 'string' ? didYouMean(value, issue.values.map(String)) : '';
    push(path, 'value', code, `expected ${expected}, got ${show(value)}${hint}`);
  };

  const visit = (issue: Issue, prefix: DataPath) => {
    const path = [...prefix, ...issue.path];
    switch (issue.code) {
      case 'unrecognized_keys': {
        let s = schemaAt(root, path, data);
        if (s instanceof z.ZodUnion) s = branchFor(s, valueAt(data, path));
        const allowed = s instanceof z.ZodObject ? Object.keys(s.shape as object) : [];
        for (const key of issue.keys) {
          const value = valueAt(data, [...path, key]);
          const jobHint = path.length === 0 && isRecord(value) && 'run' in value ? `; if "${key}" is a job, put it under "jobs"` : '';
          push([...path, key], 'key', 'unknown_key', `unknown key "${key}"${jobHint}${didYouMean(key, allowed, `allowed: ${allowed.join(', ')}`)}`);
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
