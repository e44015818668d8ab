/**
 * Building one environment into an empty directory: a Python virtual environment filled by pip, or
 * node_modules filled by `npm ci`. Every installer is spawned with an argv array. Each builder returns the
 * fully resolved package list, so a rerun months later can install exactly the same versions.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CompiledEnvironment } from '../../model/job.js';
import { execFile, tail } from './exec.js';
import { EnvError, findProgram, hasRequirements, type Interpreter } from './inputs.js';
import { startIndexProxy, type InternalIndex } from './index-proxy.js';

export interface Package {
  readonly name: string;
  readonly version: string;
}

export interface BuildRequest {
  readonly projectDir: string;
  readonly dir: string;
  /** Install exactly these (a rerun of a run whose environment is gone) instead of the requirements. */
  readonly pinned: readonly Package[] | null;
  readonly onLine: (line: string) => void;
  /** The team's index (the Kairos server's /simple/): pip then sees only a proxy that resolves internal names from it alone. */
  readonly internalIndex?: InternalIndex | null;
}

/** pip's arguments for the indexes: the first is primary, the rest are extra indexes. */
export function indexArgs(urls: readonly string[]): string[] {
  const [first, ...rest] = urls;
  if (first === undefined) return [];
  return ['--index-url', first, ...rest.flatMap((u) => ['--extra-index-url', u])];
}

/** Arguments every pip call gets: no user configuration or environment variables, no prompt, no nagging. */
export const PIP_COMMON = ['--isolated', '--disable-pip-version-check', '--no-input'];

/** An environment for installers: the worker's, less pip's own variables (the manifest says where to look). */
export function installerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PIP_') && !k.startsWith('KAIROS_')) env[k] = v;
  env.PYTHONDONTWRITEBYTECODE = '1';
  return env;
}

// Distributions installed into this environment itself (not those it sees from the system's site-packages).
const LIST_PACKAGES = [
  'import importlib.metadata as m, json, os, sys',
  'prefix = os.path.realpath(sys.prefix)',
  'out = {}',
  'for d in m.distributions():',
  '    where = os.path.realpath(str(d.locate_file("")))',
  '    if where.startswith(prefix + os.sep) and d.metadata["Name"]:',
  '        out[d.metadata["Name"].lower()] = d.version',
  'print(json.dumps([{"name": k, "version": v} for k, v in sorted(out.items())]))',
].join('\n');

async function pythonPackages(python: string): Promise<Package[]> {
  const r = await execFile([python, '-c', LIST_PACKAGES], { env: installerEnv(), timeoutMs: 60_000 });
  if (r.code !== 0) throw new EnvError(`could not list the environment's packages: ${tail(r.stderr, 5).join(' / ')}`);
  return JSON.parse(r.stdout) as Package[];
}

function failed(what: string, r: { code: number | null; signal: string | null; stdout: string; stderr: string }): EnvError {
  const lines = tail(r.stderr || r.stdout, 30);
  const ending = r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
  return new EnvError(`${what} failed (${ending})${lines.length > 0 ? ':\n' + lines.join('\n') : ''}`);
}

async function buildPython(env: Extract<CompiledEnvironment, { kind: 'python' }>, interp: Interpreter, req: BuildRequest): Promise<Package[]> {
  const venv = [interp.path, '-m', 'venv', '--without-pip', ...(env.systemSitePackages ? ['--system-site-packages'] : []), req.dir];
  const made = await execFile(venv, { env: installerEnv(), timeoutMs: 300_000 });
  if (made.code !== 0) throw failed(`creating the virtual environment (${venv.join(' ')})`, made);
  const python = path.join(req.dir, 'bin', 'python');
  let source: string[] | null = null;
  if (req.pinned) {
    const file = path.join(req.dir, 'kairos-pinned.txt');
    writeFileSync(file, req.pinned.map((p) => `${p.name}==${p.version}\n`).join(''));
    source = req.pinned.length > 0 ? ['--no-deps', '-r', file] : null;
  } else if (env.requirements !== null && hasRequirements(req.projectDir, env.requirements)) {
    source = ['-r', path.join(req.projectDir, env.requirements)];
  }
  if (source) {
    // The interpreter's own pip installs into the environment (`--python`), so the environment itself needs
    // no copy of pip: faster to build, and a job's environment holds only what it asked for.
    const proxy = req.internalIndex ? await startIndexProxy(req.internalIndex, env.indexUrls, req.onLine) : null;
    const indexes = proxy ? ['--index-url', proxy.url] : indexArgs(env.indexUrls);
    const pip = [interp.path, '-m', 'pip', '--python', python, ...PIP_COMMON, 'install', '--no-cache-dir', '--no-warn-script-location', ...indexes, ...source];
    const r = await execFile(pip, { cwd: req.projectDir, env: installerEnv(), timeoutMs: 30 * 60_000, onLine: req.onLine }).finally(() => proxy?.close());
    if (r.code !== 0) {
      if (/No module named pip/.test(r.stderr)) throw new EnvError(`${interp.path} has no pip to install requirements with (on Debian: apt-get install python3-pip)`);
      throw failed('pip install', r);
    }
  }
  return pythonPackages(python);
}

async function buildNode(env: Extract<CompiledEnvironment, { kind: 'node' }>, req: BuildRequest): Promise<Package[]> {
  const from = path.join(req.projectDir, path.dirname(env.packageJson));
  mkdirSync(req.dir, { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(path.join(from, f), path.join(req.dir, f));
  const npm = findProgram('npm');
  if (!npm) throw new EnvError('no npm on this machine\'s PATH');
  const r = await execFile([npm, 'ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: req.dir, env: installerEnv(), timeoutMs: 30 * 60_000, onLine: req.onLine });
  if (r.code !== 0) throw failed('npm ci', r);
  const lock = JSON.parse(readFileSync(path.join(req.dir, 'package-lock.json'), 'utf8')) as { packages?: Record<string, { version?: string; name?: string }> };
  return Object.entries(lock.packages ?? {})
    .filter(([where, p]) => where.startsWith('node_modules/') && p.version)
    .map(([where, p]) => ({ name: p.name ?? where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length), version: p.version ?? '' }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function buildEnvironment(env: CompiledEnvironment, interp: Interpreter | null, req: BuildRequest): Promise<Package[]> {
  switch (env.kind) {
    case 'python':
      if (!interp) throw new Error('a python environment without its interpreter');
      return buildPython(env, interp, req);
    case 'node':
      return buildNode(env, req);
    case 'system':
    case 'image':
    case 'containerfile':
      // Container environments are images (./images.ts), not built into a directory.
      return [];
  }
}

/** The variables a job gets to run inside a built environment (over the worker's own). */
export function environmentVars(env: CompiledEnvironment, dir: string, basePath = process.env.PATH ?? ''): Record<string, string> {
  switch (env.kind) {
    case 'python':
      return { VIRTUAL_ENV: dir, PATH: `${path.join(dir, 'bin')}:${basePath}` };
    case 'node':
      return { NODE_PATH: path.join(dir, 'node_modules'), PATH: `${path.join(dir, 'node_modules', '.bin')}:${basePath}` };
    case 'system':
    case 'image':
    case 'containerfile':
      return {};
  }
}
