/**
 * Does the code run? The project's `test` command, and each job that declares `check:` once as a smoke run,
 * inside their environments (built into the same cache a local worker uses, so the first run after a check
 * reuses it). Processes get argv arrays; a shell `run` is `/bin/sh -c`, as in a real run.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CompiledManifest, ParamValue, RunCommand } from '../model/job.js';
import { coerceError } from '../model/errors.js';
import { runEnv, workerBaseEnv } from '../model/run-env.js';
import { EnvCache, EnvError, environmentInputs, execFile, tail, type PreparedEnv } from '../worker/envs/index.js';
import { randomBytes } from 'node:crypto';
import { isContainerEnvironment, type ContainerNetwork } from '../model/job.js';
import { ImageCache } from '../worker/envs/images.js';
import { podman, podmanArgv, podmanSettingsFromEnv } from '../worker/containers/podman.js';
import { containerRunArgs } from '../worker/containers/run-args.js';
import { step, type Check, type OnCheckProgress } from './types.js';
import { notebookCommand } from '../worker/notebook/command.js';

const SMOKE_TIMEOUT_MS = 5 * 60_000;

/** argv for a command, with `args` appended (a shell script gets them as "$@", never spliced into it). */
export function commandArgv(run: RunCommand, args: readonly string[] = []): string[] {
  if (run.kind === 'argv') return [...run.argv, ...args];
  return args.length === 0 ? ['/bin/sh', '-c', run.script] : ['/bin/sh', '-c', `${run.script} "$@"`, 'sh', ...args];
}

export interface CodeCheckOptions {
  readonly dataDir: string;
  /** Environments whose dependencies did not resolve: code that needs them is skipped. */
  readonly broken: ReadonlySet<string>;
  readonly onProgress?: OnCheckProgress;
}

export async function codeChecks(manifest: CompiledManifest, projectDir: string, opts: CodeCheckOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const cache = new EnvCache(path.join(opts.dataDir, 'envs'));
  const prepared = new Map<string, PreparedEnv | Check>();
  const podmanSettings = podmanSettingsFromEnv();
  let images: ImageCache | null = null;
  /** Container environments: the image each runs in (built or found as a worker would, without a registry). */
  const imageFor = new Map<string, { ref: string; network: ContainerNetwork }>();
  const envFor = async (name: string | null, what: string): Promise<PreparedEnv | Check | null> => {
    if (name === null) return null;
    const env = manifest.environments[name];
    if (!env || env.kind === 'system') return null;
    if (opts.broken.has(name)) return { group: 'code', name: what, status: 'skip', message: `skipped: the requirements of environment ${name} do not resolve` };
    const known = prepared.get(name);
    if (known) return known;
    let result: PreparedEnv | Check;
    try {
      // Reused when this machine's cache has it (same content hash); a build says so while it runs.
      if (isContainerEnvironment(env)) {
        images ??= new ImageCache(podmanSettings, path.join(opts.dataDir, 'envs', '.image-locks'));
        const image = await images.prepare(env, projectDir, null, null, (line) => {
          if (/building environment|pulling image/.test(line)) opts.onProgress?.({ kind: 'start', group: 'code', name: `${what}: ${line.replace(/^\[kairos\] /, '')}` });
        });
        imageFor.set(name, { ref: image.ref, network: env.network });
        result = { hash: image.hash, dir: projectDir, packages: [], vars: {}, built: image.built, release: () => Promise.resolve() };
      } else {
        if (!(await cache.lookup((await environmentInputs(env, projectDir)).hash))) opts.onProgress?.({ kind: 'start', group: 'code', name: `${what}: building environment ${name}` });
        result = await cache.prepare(env, projectDir, () => {});
      }
    } catch (err) {
      const lines = (err instanceof EnvError ? err.message : coerceError(err).message).split('\n');
      result = { group: 'code', name: what, status: 'fail', message: lines[0] ?? 'environment build failed', details: lines.slice(1) };
    }
    prepared.set(name, result);
    return result;
  };
  const run = async (what: string, argv: string[], cwd: string, envName: string | null, extra: Record<string, string>, timeoutMs: number): Promise<Check> => {
    const [check] = await step(opts.onProgress, 'code', what, async () => [await runOne(what, argv, cwd, envName, extra, timeoutMs)]);
    return check as Check;
  };
  const runOne = async (what: string, argv: string[], cwd: string, envName: string | null, extra: Record<string, string>, timeoutMs: number): Promise<Check> => {
    const env = await envFor(envName, what);
    if (env && 'status' in env) return { ...env, name: what };
    const started = Date.now();
    const image = envName ? imageFor.get(envName) : undefined;
    const r = await (image ? runInImage(image, argv, cwd, { ...extra, KAIROS_CHECK: '1' }, timeoutMs) : execFile(argv, { cwd, env: { ...workerBaseEnv(process.env), ...extra, ...env?.vars, KAIROS_CHECK: '1' }, timeoutMs })).catch((err: unknown) => ({
      code: 127,
      signal: null,
      stdout: '',
      stderr: `could not start ${argv[0] ?? ''}: ${coerceError(err).message}`,
      timedOut: false,
    }));
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const where = envName ? ` in environment ${envName}` : '';
    if (r.code === 0) return { group: 'code', name: what, status: 'pass', message: `passed in ${secs} s${where}` };
    const ending = r.timedOut ? `timed out after ${Math.round(timeoutMs / 1000)} s` : r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;
    return { group: 'code', name: what, status: 'fail', message: `failed (${ending}) in ${secs} s${where}`, details: tail(`${r.stdout}\n${r.stderr}`, 20) };
  };

  /** The command in a throw-away container of the image: the project read-only, the check's scratch files writable. */
  const runInImage = async (image: { ref: string; network: ContainerNetwork }, argv: string[], cwd: string, vars: Record<string, string>, timeoutMs: number) => {
    const name = `kairos-check-${randomBytes(6).toString('hex')}`;
    // A job's smoke run writes its metrics and artifacts into the check's scratch directory.
    const scratch = vars.KAIROS_ARTIFACTS ? [path.dirname(vars.KAIROS_ARTIFACTS)] : [];
    const { args, podmanEnv } = containerRunArgs(
      { podman: podmanSettings, workerLabel: 'kairos-check' },
      {
        name,
        command: { kind: 'argv', argv },
        cwd,
        env: vars,
        resources: {},
        timeLimitMs: null,
        graceMs: 0,
        paths: { readOnly: [projectDir], writable: scratch, writableFiles: [] },
        image,
        onLines: () => {},
      },
      vars,
      [],
      null,
    );
    try {
      return await execFile(podmanArgv(podmanSettings, args), { env: { ...process.env, ...podmanEnv }, timeoutMs });
    } finally {
      await podman(podmanSettings, ['rm', '--force', '--time', '0', name], { timeoutMs: 120_000 });
    }
  };

  try {
    if (manifest.test) {
      const t = manifest.test;
      checks.push(await run('test', commandArgv(t.run), projectDir, t.environment, {}, t.timeoutMs));
    } else {
      checks.push({ group: 'code', name: 'test', status: 'skip', message: 'no `test` command in the manifest' });
    }
    for (const job of Object.values(manifest.jobs)) {
      if (job.check === null || job.check === undefined) continue;
      const what = `check ${job.name}`;
      const missing = Object.entries(job.params).filter(([, p]) => p.required && p.default === undefined).map(([n]) => n);
      if (missing.length > 0) {
        checks.push({ group: 'code', name: what, status: 'fail', message: `needs a value for the required param${missing.length === 1 ? '' : 's'} ${missing.join(', ')}; give it a default to smoke-test it` });
        continue;
      }
      const scratch = mkdtempSync(path.join(tmpdir(), 'kairos-check-run-'));
      try {
        const artifacts = path.join(scratch, 'artifacts');
        mkdirSync(artifacts);
        const params: Record<string, ParamValue> = {};
        for (const [name, p] of Object.entries(job.params)) if (p.default !== undefined) params[name] = p.default;
        // The same variables a real run gets (src/model/run-env.ts), with "check" for the ids it has none of.
        const vars = runEnv({
          runId: 'check',
          project: manifest.project,
          job: job.name,
          attempt: 1,
          scheduledFor: Date.now(),
          timezone: job.schedule?.timezone ?? manifest.defaults.timezone,
          deploymentId: 'check',
          params,
          env: job.env,
          outputFile: path.join(scratch, 'output.jsonl'),
          artifactsDir: artifacts,
        });
        const cwd = job.workdir ? path.join(projectDir, job.workdir) : projectDir;
        const command =
          job.run.kind === 'notebook'
            ? notebookCommand(job.run, { projectDir, specs: job.params, params, cellTimeoutMs: job.cellTimeoutMs ?? null, artifactsDir: artifacts, resultFile: path.join(scratch, 'notebook.json') })
            : job.run;
        checks.push(await run(what, commandArgv(command, job.check), cwd, job.environment, vars, Math.min(job.timeoutMs ?? SMOKE_TIMEOUT_MS, SMOKE_TIMEOUT_MS)));
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }
  } finally {
    for (const p of prepared.values()) if (!('status' in p)) await p.release();
  }
  return checks;
}
