/**
 * What an environment is made of, and its content hash: the interpreter (its real path and version), the
 * requirement files (with the files they include), the index settings. Two runs whose inputs hash the same
 * share one built environment.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CompiledEnvironment } from '../../model/job.js';
import { execFile } from './exec.js';
import { containerfileHash } from './images.js';

/** Bumped when the way environments are built changes, so old builds are not reused by mistake. */
const BUILD_FORMAT = 1;

export class EnvError extends Error {
  override name = 'EnvError';
}

export interface Interpreter {
  /** The path the job and pip use (a symlink such as /usr/bin/python3 is kept as it is). */
  readonly path: string;
  readonly realPath: string;
  readonly version: string;
}

/** `"3.11"` → `python3.11`; `"python3"` → itself; an absolute path → itself. */
export function interpreterCommand(spec: string): string {
  return /^\d/.test(spec) ? `python${spec}` : spec;
}

/** Finds a program on PATH (or checks an absolute path) without a shell; null when there is none. */
export function findProgram(name: string, envPath = process.env.PATH ?? ''): string | null {
  const candidates = path.isAbsolute(name) ? [name] : envPath.split(':').filter(Boolean).map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch {
      // not here
    }
  }
  return null;
}

const interpreters = new Map<string, Interpreter>();

/** The interpreter an environment names, with its version; memoised per real path and mtime. */
export async function resolveInterpreter(spec: string): Promise<Interpreter> {
  const command = interpreterCommand(spec);
  const found = findProgram(command);
  if (!found) {
    throw new EnvError(path.isAbsolute(command) ? `the interpreter ${command} does not exist on this machine` : `no ${command} on this machine's PATH (the environment asks for python ${spec})`);
  }
  const realPath = realpathSync(found);
  const key = `${found}\0${realPath}\0${statSync(realPath).mtimeMs}`;
  const known = interpreters.get(key);
  if (known) return known;
  const r = await execFile([found, '-c', 'import sys; print(".".join(map(str, sys.version_info[:3])))'], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new EnvError(`${found} does not run as a Python interpreter: ${r.stderr.trim() || `exit ${r.code}`}`);
  const interp = { path: found, realPath, version: r.stdout.trim() };
  interpreters.set(key, interp);
  return interp;
}

/** A path inside the project directory, or an error naming the file that points outside it. */
function inside(projectDir: string, rel: string, from: string): string {
  const abs = path.resolve(projectDir, rel);
  const back = path.relative(projectDir, abs);
  if (back.startsWith('..') || path.isAbsolute(back)) throw new EnvError(`${from} refers to ${rel}, outside the project directory`);
  return abs;
}

const INCLUDE = /^\s*(?:-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)/;

/** The requirement file and every file it includes (`-r`, `-c`), as [relative path, sha256] pairs. */
export function requirementFiles(projectDir: string, requirements: string): [string, string][] {
  const out = new Map<string, string>();
  const visit = (rel: string, from: string) => {
    const abs = inside(projectDir, rel, from);
    const key = path.relative(projectDir, abs);
    if (out.has(key)) return;
    let text: string;
    try {
      text = readFileSync(abs, 'utf8');
    } catch {
      throw new EnvError(`requirements file ${key} not found in the project${from === 'the environment' ? '' : ` (included by ${from})`}`);
    }
    out.set(key, createHash('sha256').update(text).digest('hex'));
    for (const line of text.split('\n')) {
      const m = INCLUDE.exec(line);
      if (m?.[1]) visit(path.join(path.dirname(key), m[1]), key);
    }
  };
  visit(requirements, 'the environment');
  return [...out.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** Directories and files that are not part of a package's source (build output, caches, VCS). */
const SKIP_DIRS = new Set(['.git', '.hg', '.svn', '__pycache__', 'build', 'dist', '.tox', '.nox', '.venv', 'venv', 'node_modules', '.kairos', '.mypy_cache', '.pytest_cache']);

/** The path a requirement line installs from the local disk (`./lib`, `-e ./lib`, `name @ file:./lib`), or null. */
export function localPathOf(line: string): string | null {
  let l = line.replace(/(^|\s)#.*$/, '').trim();
  const editable = /^(?:-e|--editable)(?:\s+|=)(.+)$/.exec(l);
  if (editable?.[1]) l = editable[1].trim();
  const at = /^[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?\s*@\s*(.+)$/.exec(l);
  if (at?.[1]) l = at[1].trim();
  if (l.startsWith('file://')) l = l.slice('file://'.length);
  else if (l.startsWith('file:')) l = l.slice('file:'.length);
  else if (!/^(\.{1,2}(\/|$)|\/)/.test(l)) return null;
  l = l.split(/[#;]/)[0]?.trim() ?? '';
  l = l.replace(/\[[^\]]*\]$/, '');
  return l === '' ? null : l;
}

/** sha256 of every file that makes a local package (sorted relative paths and contents). */
function hashTree(abs: string): string {
  const h = createHash('sha256');
  const walk = (dir: string, rel: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.endsWith('.egg-info')) walk(path.join(dir, e.name), rel + e.name + '/');
      } else if (e.isFile() && !e.name.endsWith('.pyc')) {
        h.update(`${rel}${e.name}\0`).update(readFileSync(path.join(dir, e.name))).update('\0');
      }
    }
  };
  const st = statSync(abs);
  if (st.isDirectory()) walk(abs, '');
  else h.update(readFileSync(abs));
  return h.digest('hex');
}

/**
 * Local-path and editable requirements of a requirements file and the files it includes, as [path, sha256 of
 * the files that make the package] pairs: editing the package's source changes the environment's hash. Paths
 * are relative to the project (where pip runs).
 */
export function localRequirements(projectDir: string, requirements: string): [string, string][] {
  const out = new Map<string, string>();
  for (const [file] of requirementFiles(projectDir, requirements)) {
    for (const line of readFileSync(path.join(projectDir, file), 'utf8').split('\n')) {
      const local = localPathOf(line);
      if (local === null) continue;
      const abs = inside(projectDir, local, file);
      const key = path.relative(projectDir, abs) || '.';
      if (out.has(key)) continue;
      try {
        out.set(key, hashTree(abs));
      } catch {
        throw new EnvError(`${file} installs ${local}, which is not in the project`);
      }
    }
  }
  return [...out.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** Whether a requirements file asks for anything (an empty or comment-only file needs no installer). */
export function hasRequirements(projectDir: string, requirements: string | null): boolean {
  if (requirements === null) return false;
  const text = readFileSync(path.join(projectDir, requirements), 'utf8');
  return text.split('\n').some((l) => l.replace(/(^|\s)#.*$/, '').trim() !== '');
}

export interface EnvInputs {
  readonly hash: string;
  readonly interpreter: Interpreter | null;
  /** What the hash covers, kept in the built environment's record. */
  readonly described: Record<string, unknown>;
}

/** The content hash of an environment as this project defines it on this machine. */
export async function environmentInputs(env: CompiledEnvironment, projectDir: string, opts: { internalIndex?: boolean } = {}): Promise<EnvInputs> {
  let described: Record<string, unknown>;
  let interpreter: Interpreter | null = null;
  switch (env.kind) {
    case 'system':
      described = { kind: 'system' };
      break;
    case 'image':
      described = { kind: 'image', image: env.image, network: env.network };
      break;
    case 'containerfile':
      described = { kind: 'containerfile', hash: containerfileHash(env, projectDir) };
      break;
    case 'python':
      interpreter = await resolveInterpreter(env.interpreter);
      described = {
        kind: 'python',
        interpreter: interpreter.realPath,
        version: interpreter.version,
        system_site_packages: env.systemSitePackages,
        index_urls: env.indexUrls,
        files: env.requirements === null ? [] : requirementFiles(projectDir, env.requirements),
        // Local-path and editable requirements (`./lib/teamlib`, `-e ./lib`): the files that make the package.
        local: env.requirements === null ? [] : localRequirements(projectDir, env.requirements),
        ...(opts.internalIndex ? { internal_index: true } : {}),
      };
      break;
    case 'node': {
      const dir = path.dirname(env.packageJson);
      const files: [string, string][] = [];
      for (const name of ['package.json', 'package-lock.json']) {
        const rel = path.join(dir, name);
        let text: string;
        try {
          text = readFileSync(inside(projectDir, rel, 'the environment'), 'utf8');
        } catch (err) {
          if (err instanceof EnvError) throw err;
          throw new EnvError(`${rel} not found in the project${name === 'package-lock.json' ? ' (`npm ci` needs the lock file: run `npm install` once and commit it)' : ''}`);
        }
        files.push([rel, createHash('sha256').update(text).digest('hex')]);
      }
      described = { kind: 'node', node: process.version, files };
      break;
    }
  }
  const hash = createHash('sha256').update(JSON.stringify({ format: BUILD_FORMAT, ...described })).digest('hex');
  return { hash, interpreter, described };
}
