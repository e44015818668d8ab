/**
 * `runChecks(dir, options)`: every check of a project, for `kairos check` and for `kairos deploy`, which
 * refuses to activate a version whose report is not ok (unless forced).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { formatProblem, loadManifestFile } from '../manifest/index.js';
import type { CompiledManifest } from '../model/job.js';
import { formatInZone, nextFire, parseCron } from '../model/cron/index.js';
import { coerceError } from '../model/errors.js';
import { EnvError, findProgram, interpreterCommand, resolveInterpreter } from '../worker/envs/index.js';
import { codeChecks } from './code.js';
import { dependencyChecks } from './dependencies.js';
import { notebookChecks } from './notebook.js';
import { serverChecks, type ServerTarget } from './server.js';
import { makeReport, step, type Check, type CheckGroup, type CheckReport, type OnCheckProgress } from './types.js';

export * from './types.js';
export { formatReport } from './format.js';
export type { ServerTarget } from './server.js';

export interface CheckOptions {
  /** The server whose secrets and workers are checked; null skips those checks. */
  readonly server: ServerTarget | null;
  /** Where environments are built (default: DIR/.kairos, as `kairos up` uses). */
  readonly dataDir?: string;
  /** Groups to leave out (e.g. `code` when only the configuration matters). */
  readonly skip?: readonly CheckGroup[];
  /** Fire times shown per schedule. */
  readonly fireTimes?: number;
  readonly now?: number;
  /** Told as each step starts and each check ends (the checks of `kairos deploy` show as they run). */
  readonly onProgress?: OnCheckProgress;
}

function localChecks(manifest: CompiledManifest, projectDir: string, now: number, count: number): Check[] {
  const checks: Check[] = [];
  const params = Object.values(manifest.jobs).reduce((n, j) => n + Object.values(j.params).filter((p) => p.default !== undefined).length, 0);
  checks.push({ group: 'configuration', name: 'params', status: 'pass', message: `${params} parameter default${params === 1 ? '' : 's'} valid for their types and enums` });
  for (const job of Object.values(manifest.jobs)) {
    const s = job.schedule;
    if (!s) continue;
    const parsed = parseCron(s.cron);
    const times: string[] = [];
    if (parsed.ok) {
      let t = now;
      for (let i = 0; i < count; i++) {
        const next = nextFire(parsed.cron, s.timezone, t);
        if (next === null) break;
        times.push(formatInZone(s.timezone, next));
        t = next;
      }
    }
    checks.push(
      times.length > 0
        ? { group: 'configuration', name: `schedule ${job.name}`, status: 'pass', message: `"${s.cron}" ${s.timezone}: next ${times.join(', ')}` }
        : { group: 'configuration', name: `schedule ${job.name}`, status: 'fail', message: `"${s.cron}" never fires` },
    );
  }
  for (const env of Object.values(manifest.environments)) {
    const name = `environment ${env.name}`;
    if (env.kind === 'python') {
      const found = findProgram(interpreterCommand(env.interpreter));
      if (!found) checks.push({ group: 'configuration', name, status: 'fail', message: `interpreter ${interpreterCommand(env.interpreter)} not found on this machine` });
      else if (env.requirements !== null && !existsSync(path.join(projectDir, env.requirements))) checks.push({ group: 'configuration', name, status: 'fail', message: `requirements file ${env.requirements} not found` });
      else checks.push({ group: 'configuration', name, status: 'pass', message: `python ${found}${env.requirements ? `, ${env.requirements}` : ''}` });
    } else if (env.kind === 'node') {
      const npm = findProgram('npm');
      checks.push(npm ? { group: 'configuration', name, status: 'pass', message: `npm ci, ${env.packageJson}` } : { group: 'configuration', name, status: 'fail', message: 'npm not found on this machine' });
    } else {
      checks.push({ group: 'configuration', name, status: 'pass', message: "the worker's own tools" });
    }
  }
  return checks;
}

export async function runChecks(dir: string, options: CheckOptions): Promise<CheckReport> {
  const projectDir = path.resolve(dir);
  const loaded = await loadManifestFile(projectDir);
  if (!loaded.ok) {
    const n = loaded.problems.length;
    return makeReport(projectDir, null, [{ group: 'configuration', name: 'manifest', status: 'fail', message: `${n} problem${n === 1 ? '' : 's'} in the manifest`, details: loaded.problems.map(formatProblem) }], true);
  }
  const manifest = loaded.manifest;
  const skip = new Set(options.skip ?? []);
  const jobs = Object.keys(manifest.jobs);
  const on = options.onProgress;
  const dataDir = options.dataDir ?? path.join(projectDir, '.kairos');
  const checks: Check[] = await step(on, 'configuration', 'manifest', async () => [
    { group: 'configuration', name: 'manifest', status: 'pass', message: `project ${manifest.project}, ${jobs.length} job${jobs.length === 1 ? '' : 's'}` },
    ...localChecks(manifest, projectDir, options.now ?? Date.now(), options.fireTimes ?? 3),
    ...(await notebookChecks(manifest, projectDir)),
  ]);
  checks.push(
    ...(await step(on, 'configuration', 'secrets and pools on the server', async () => {
      try {
        return await serverChecks(manifest, options.server);
      } catch (err) {
        return [{ group: 'configuration', name: 'server', status: 'fail', message: coerceError(err).message }];
      }
    })),
  );
  const broken = new Set<string>();
  if (!skip.has('dependencies')) {
    const deps = await dependencyChecks(manifest, projectDir, { dataDir, onProgress: on });
    for (const c of deps) {
      const envName = /^(?:requirements|packages|environment) (.+)$/.exec(c.name)?.[1];
      if (c.status === 'fail' && envName) broken.add(envName);
    }
    checks.push(...deps);
  }
  if (!skip.has('code')) {
    // Interpreters that are missing fail here already; their code is not run.
    for (const env of Object.values(manifest.environments)) {
      if (env.kind === 'python') await resolveInterpreter(env.interpreter).catch((err: unknown) => (err instanceof EnvError ? broken.add(env.name) : undefined));
    }
    checks.push(...(await codeChecks(manifest, projectDir, { dataDir, broken, ...(on ? { onProgress: on } : {}) })));
  }
  return makeReport(projectDir, manifest.project, checks);
}
