/**
 * Do the requirements resolve? For a Python environment, pip resolves them against the configured indexes
 * with `--dry-run` for a throwaway virtual environment in a temporary directory: nothing is installed, least
 * of all into the user's own interpreter. pip stops at the first requirement it cannot find, so each one it
 * names is set aside and the rest resolved again, to name every missing requirement at once.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CompiledEnvironment, CompiledManifest } from '../model/job.js';
import { coerceError } from '../model/errors.js';
import { EnvCache, EnvError, environmentInputs, execFile, hasRequirements, indexArgs, installerEnv, PIP_COMMON, resolveInterpreter, tail } from '../worker/envs/index.js';
import { step, type Check, type OnCheckProgress } from './types.js';

const MISSING = /(?:No matching distribution found for|Could not find a version that satisfies the requirement) ([^\s(]+)/g;
const MAX_ROUNDS = 20;

/** An index URL as shown: credentials in it (`https://user:token@host/`) are never printed. */
export function redactUrl(url: string): string {
  return url.replace(/^(\w+:\/\/)[^/@]*@/, '$1***@');
}

/** `name` of a requirement line (`pkg[extra]>=1 ; marker`), normalised as PEP 503 does. */
function requirementName(line: string): string | null {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(line.replace(/(^|\s)#.*$/, ''));
  return m?.[1] ? normalise(m[1]) : null;
}
const normalise = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');

async function checkPython(env: Extract<CompiledEnvironment, { kind: 'python' }>, projectDir: string): Promise<Check[]> {
  const name = `requirements ${env.name}`;
  const indexes = env.indexUrls.length > 0 ? env.indexUrls.map(redactUrl).join(', ') : "pip's default index";
  if (env.requirements === null) return [{ group: 'dependencies', name, status: 'pass', message: 'no requirements file: nothing to resolve' }];
  const reqFile = path.join(projectDir, env.requirements);
  let text: string;
  try {
    text = readFileSync(reqFile, 'utf8');
  } catch {
    return [{ group: 'dependencies', name, status: 'fail', message: `requirements file ${env.requirements} not found` }];
  }
  if (!hasRequirements(projectDir, env.requirements)) return [{ group: 'dependencies', name, status: 'pass', message: `${env.requirements} asks for nothing` }];
  const interp = await resolveInterpreter(env.interpreter);
  const tmp = mkdtempSync(path.join(tmpdir(), 'kairos-check-'));
  try {
    const venv = path.join(tmp, 'venv');
    const made = await execFile([interp.path, '-m', 'venv', '--without-pip', ...(env.systemSitePackages ? ['--system-site-packages'] : []), venv], { env: installerEnv(), timeoutMs: 120_000 });
    if (made.code !== 0) return [{ group: 'dependencies', name, status: 'fail', message: `could not make a throwaway environment with ${interp.path}`, details: tail(made.stderr, 10) }];
    // Includes (-r, -c) keep working from the copy: they are made absolute.
    let lines = text.split('\n').map((l) => l.replace(/^(\s*(?:-r|--requirement|-c|--constraint)(?:\s+|=))(\S+)/, (_, flag: string, f: string) => flag + path.resolve(path.dirname(reqFile), f)));
    const missing: string[] = [];
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const file = path.join(tmp, 'requirements.txt');
      writeFileSync(file, lines.join('\n'));
      const report = path.join(tmp, 'report.json');
      // The throwaway environment sees the interpreter's own packages only when the real one will: then a
      // requirement they satisfy needs nothing from an index, as in the real build.
      const r = await execFile(
        [interp.path, '-m', 'pip', '--python', path.join(venv, 'bin', 'python'), ...PIP_COMMON, 'install', '--dry-run', ...(env.systemSitePackages ? [] : ['--ignore-installed']), '--quiet', '--report', report, '--retries', '1', '--timeout', '15', '--no-cache-dir', ...indexArgs(env.indexUrls), '-r', file],
        { cwd: projectDir, env: installerEnv(), timeoutMs: 10 * 60_000 },
      );
      if (r.code === 0) {
        if (missing.length > 0) break;
        const resolved = (JSON.parse(readFileSync(report, 'utf8')) as { install?: { metadata?: { name?: string; version?: string } }[] }).install ?? [];
        const list = resolved.map((i) => `${i.metadata?.name ?? '?'}==${i.metadata?.version ?? '?'}`);
        const rest = env.systemSitePackages ? "; the rest from the interpreter's own packages" : '';
        return [{ group: 'dependencies', name, status: 'pass', message: `resolved: ${list.length} package${list.length === 1 ? '' : 's'} from ${indexes}${rest}`, details: list }];
      }
      const names = [...`${r.stderr}\n${r.stdout}`.matchAll(MISSING)].map((m) => requirementName(m[1] ?? '') ?? '');
      const fresh = [...new Set(names)].filter((n) => n && !missing.includes(n));
      if (fresh.length === 0) {
        if (/No module named pip/.test(r.stderr)) return [{ group: 'dependencies', name, status: 'fail', message: `${interp.path} has no pip to resolve requirements with (on Debian: apt-get install python3-pip)` }];
        return [
          ...missing.map((m) => missingCheck(env, m, indexes)),
          { group: 'dependencies', name, status: 'fail', message: `pip could not resolve ${env.requirements}: ${tail(r.stderr || r.stdout, 1)[0] ?? `exit ${r.code}`}`, details: tail(r.stderr || r.stdout, 20) },
        ];
      }
      missing.push(...fresh);
      const before = lines.length;
      lines = lines.filter((l) => !fresh.includes(requirementName(l) ?? ''));
      // A missing requirement that is not on a line of the file (a dependency of one) cannot be set aside.
      if (lines.length === before) break;
    }
    return missing.map((m) => missingCheck(env, m, indexes));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function missingCheck(env: Extract<CompiledEnvironment, { kind: 'python' }>, requirement: string, indexes: string): Check {
  return { group: 'dependencies', name: `requirements ${env.name}`, status: 'fail', message: `requirement "${requirement}" not found on ${indexes}` };
}

function checkNode(env: Extract<CompiledEnvironment, { kind: 'node' }>, projectDir: string): Check {
  const name = `packages ${env.name}`;
  const lockFile = path.join(path.dirname(env.packageJson), 'package-lock.json');
  try {
    const lock = JSON.parse(readFileSync(path.join(projectDir, lockFile), 'utf8')) as { packages?: Record<string, unknown> };
    const count = Object.keys(lock.packages ?? {}).filter((k) => k.startsWith('node_modules/')).length;
    return { group: 'dependencies', name, status: 'pass', message: `${lockFile}: ${count} locked package${count === 1 ? '' : 's'}, installed exactly by npm ci` };
  } catch (err) {
    return { group: 'dependencies', name, status: 'fail', message: `${lockFile} is missing or not JSON (${coerceError(err).message}); run npm install once and commit it` };
  }
}

/**
 * An environment already built in this machine's cache from the same inputs (requirements, interpreter,
 * indexes: its content hash) resolved once already: nothing to resolve again, nothing to rebuild.
 */
async function alreadyBuilt(env: CompiledEnvironment, projectDir: string, dataDir: string): Promise<Check | null> {
  const inputs = await environmentInputs(env, projectDir);
  const record = await new EnvCache(path.join(dataDir, 'envs')).lookup(inputs.hash);
  if (!record) return null;
  const n = record.packages.length;
  return { group: 'dependencies', name: `requirements ${env.name}`, status: 'pass', message: `already built here (environment ${inputs.hash.slice(0, 12)}, ${n} package${n === 1 ? '' : 's'}): nothing to resolve`, details: record.packages.map((p) => `${p.name}==${p.version}`) };
}

export interface DependencyCheckOptions {
  /** The data directory whose environment cache is looked in (`<data>/envs`, as the worker's). */
  readonly dataDir?: string;
  readonly onProgress?: OnCheckProgress;
}

/** One or more lines for each environment the manifest defines. */
export async function dependencyChecks(manifest: CompiledManifest, projectDir: string, opts: DependencyCheckOptions = {}): Promise<Check[]> {
  const checks: Check[] = [];
  for (const env of Object.values(manifest.environments)) {
    if (env.kind !== 'python' && env.kind !== 'node') continue;
    const name = env.kind === 'python' ? `requirements ${env.name}` : `packages ${env.name}`;
    checks.push(
      ...(await step(opts.onProgress, 'dependencies', name, async () => {
        try {
          if (env.kind === 'node') return [checkNode(env, projectDir)];
          const built = opts.dataDir ? await alreadyBuilt(env, projectDir, opts.dataDir) : null;
          return built ? [built] : await checkPython(env, projectDir);
        } catch (err) {
          const message = err instanceof EnvError ? err.message : coerceError(err).message;
          return [{ group: 'dependencies', name: `environment ${env.name}`, status: 'fail', message }];
        }
      })),
    );
  }
  if (checks.length === 0) checks.push({ group: 'dependencies', name: 'environments', status: 'pass', message: "no environment defined: jobs use the worker's own tools" });
  return checks;
}
