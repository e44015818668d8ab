/**
 * YAML text → plain data plus the line and column of every key and value, so that a problem found in the data
 * (by the schema) can be reported where the user wrote it. YAML-level problems (syntax, duplicate keys,
 * unresolved aliases) are found here.
 */
import { LineCounter, isAlias, isMap, isNode, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import type { ManifestProblem } from '../model/job.js';
import type { ProblemCode } from './problems.js';

export interface Position {
  readonly line: number;
  readonly col: number;
}
export type DataPath = readonly PropertyKey[];

export interface YamlSource {
  /** The document as plain data; null when it is empty or could not be read (see `fatal`). */
  readonly data: unknown;
  readonly problems: readonly ManifestProblem[];
  /** The YAML itself is broken: the data is not what the user meant, so nothing else is checked. */
  readonly fatal: boolean;
  /** Where the key (or the value) at `path` was written; the nearest written ancestor when it was not. */
  position(path: DataPath, at: 'key' | 'value'): Position;
}

export function dotted(path: DataPath): string {
  return path.map(String).join('.');
}

const pathKey = (path: DataPath): string => JSON.stringify(path.map(String));

/** Friendlier words for the YAML mistakes people make in manifests. */
function syntaxMessage(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') return 'invalid YAML: a manifest is one YAML document; remove the "---" separator and what follows, or merge the documents';
  const base = `invalid YAML: ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
  if (/alias/i.test(message)) return `${base} (a value starting with "*" is read as a YAML alias; quote it, e.g. "*/5 * * * *")`;
  if (code === 'BAD_SCALAR_START') return `${base}; quote the value, e.g. "@daily"`;
  return base;
}

export function readYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  // uniqueKeys off: duplicates are reported below, with the key's path and where it first appeared.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, merge: true });
  const toPosition = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };
  const problems: ManifestProblem[] = [];
  const add = (offset: number, path: DataPath, code: ProblemCode, message: string) =>
    problems.push({ file, ...toPosition(offset), path: dotted(path), code, message });

  for (const e of [...doc.errors, ...doc.warnings]) add(e.pos[0], [], 'yaml_syntax', syntaxMessage(e.code, e.message));
  const keys = new Map<string, number>();
  const values = new Map<string, number>();
  walk(doc, doc.contents, [], { keys, values, add, toPosition });
  firstSyntaxErrorPerLine(problems);

  let data: unknown = null;
  if (!problems.some((p) => p.code === 'yaml_syntax')) {
    try {
      data = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      // Aliases expanding without bound ("billion laughs") and similar: report, do not crash.
      add(0, [], 'yaml_syntax', `invalid YAML: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  const position = (path: DataPath, at: 'key' | 'value'): Position => {
    for (let n = path.length; n >= 0; n--) {
      const k = pathKey(path.slice(0, n));
      const exact = n === path.length;
      const offset = exact && at === 'key' ? keys.get(k) : (values.get(k) ?? keys.get(k));
      if (offset !== undefined) return toPosition(offset);
    }
    return { line: 1, col: 1 };
  };
  return { data, problems, fatal: problems.some((p) => p.code === 'yaml_syntax'), position };
}

// One syntax error a line: a single mistake (an unquoted cron like `*/5 * * * *`) often yields several.
function firstSyntaxErrorPerLine(problems: ManifestProblem[]): void {
  const kept = new Map<number, ManifestProblem>();
  for (const p of problems) {
    if (p.code !== 'yaml_syntax') continue;
    const k = kept.get(p.line);
    if (k === undefined || p.col < k.col) kept.set(p.line, p);
  }
  const keep = problems.filter((p) => p.code !== 'yaml_syntax' || kept.get(p.line) === p);
  problems.splice(0, problems.length, ...keep);
}

interface WalkState {
  readonly keys: Map<string, number>;
  readonly values: Map<string, number>;
  readonly add: (offset: number, path: DataPath, code: ProblemCode, message: string) => void;
  readonly toPosition: (offset: number) => Position;
}

function walk(doc: Document, node: unknown, path: string[], s: WalkState): void {
  if (!isNode(node)) return;
  const start = node.range?.[0];
  // An empty value (`timeout:` and nothing) has a zero-width range after the colon; report at its key instead.
  const empty = isScalar(node) && node.value === null && node.range != null && node.range[0] === node.range[1];
  if (start !== undefined && !empty) s.values.set(pathKey(path), start);

  if (isAlias(node)) {
    if (node.resolve(doc) === undefined && start !== undefined) {
      s.add(start, path, 'yaml_syntax', `invalid YAML: alias "*${node.source}" has no anchor "&${node.source}" before it (a value starting with "*" is read as an alias; quote it, e.g. "*/5 * * * *")`);
    }
    return;
  }
  if (isSeq(node)) {
    node.items.forEach((item, i) => walk(doc, item, [...path, String(i)], s));
    return;
  }
  if (!isMap(node)) return;
  const firstSeen = new Map<string, number>();
  for (const pair of node.items) {
    const keyNode = pair.key;
    const keyStart = isNode(keyNode) ? keyNode.range?.[0] : undefined;
    // `<<: *base` (a merge key): its keys are positioned at the mapping that merges them.
    if (isScalar(keyNode) && typeof keyNode.value === 'symbol') continue;
    if (!isScalar(keyNode)) {
      s.add(keyStart ?? start ?? 0, path, 'yaml_syntax', 'invalid YAML: keys must be plain names, not lists or mappings');
      continue;
    }
    const name = String(keyNode.value);
    const childPath = [...path, name];
    if (name === '__proto__') {
      // Plain JS objects cannot hold this key safely; toJS would turn it into a prototype.
      s.add(keyStart ?? start ?? 0, childPath, 'invalid_name', 'the key "__proto__" is not allowed');
      continue;
    }
    if (keyStart !== undefined) {
      const earlier = firstSeen.get(name);
      if (earlier === undefined) firstSeen.set(name, keyStart);
      else {
        const { line } = s.toPosition(earlier);
        s.add(keyStart, childPath, 'duplicate_key', `duplicate key "${name}" (first written on line ${line}); YAML would keep only this one, so remove or rename one of them`);
      }
      s.keys.set(pathKey(childPath), keyStart);
    }
    walk(doc, pair.value, childPath, s);
  }
}
