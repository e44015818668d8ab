/**
 * The manifest compiler: YAML text → (positions, schema) → `CompiledManifest`, the only way to make one.
 * Every problem is collected before anything is compiled, so a user sees them all at once.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseDuration } from '../model/duration.js';
import type {
  CompiledEnvironment,
  CompiledJob,
  CompiledManifest,
  CompiledTest,
  CompiledPool,
  CompiledSchedule,
  ManifestProblem,
  ManifestResult,
  NotifyRule,
  ParamSpec,
  ParamValue,
  JobRun,
  RetryPolicy,
  RunCommand,
} from '../model/job.js';
import { normaliseWorkdir, parseSize } from './fields.js';
import { problemsFromIssues } from './issues.js';
import { parseParamValue } from './params.js';
import { sortProblems } from './problems.js';
import { DEFAULTS, DEFAULT_POOL, manifestSchema, type JobDocument, type ManifestDocument, type PipelineDocument, type RetriesDocument } from './schema.js';
import { DEFAULT_MAX_PARALLEL, topologicalOrder, type CompiledPipeline, type CompiledStep, type PipelineParamSpec } from '../model/pipeline.js';
import { readYaml } from './yaml-source.js';
import { NOTIFY_DEFAULT_FORMAT, type NotifyRuleDocument } from './notify-schema.js';
import { COMPILED_MANIFEST_VERSION } from '../model/job.js';
import { SERVICE_DEFAULTS } from './service-schema.js';
import { NETWORK_DEFAULTS, type NetworkDocument } from './network-schema.js';
import type { CompiledNetwork } from '../model/network.js';

/** `defaults.network` (over the constant defaults), then a job's own (its needs added to the defaults'). */
function compileNetwork(n: NetworkDocument | undefined, base: CompiledNetwork | null): CompiledNetwork {
  return {
    needs: [...new Set([...(base?.needs ?? []), ...(n?.needs ?? [])])],
    onFailure: n?.on_failure ?? base?.onFailure ?? NETWORK_DEFAULTS.onFailure,
    timeoutMs: n?.timeout !== undefined ? ms(n.timeout) : (base?.timeoutMs ?? ms(NETWORK_DEFAULTS.timeout)),
    maxWaitMs: n?.max_wait !== undefined ? ms(n.max_wait) : (base?.maxWaitMs ?? ms(NETWORK_DEFAULTS.maxWait)),
  };
}
import { parseInputRef } from '../model/inputs.js';

/** The file `kairos validate DIR` and `kairos deploy DIR` read. */
export const MANIFEST_FILE_NAME = 'kairos.yaml';

/** Checks `text` (the content of `file`, which is only used in problems) and compiles it. */
export function compileManifestText(text: string, file: string): ManifestResult {
  const source = readYaml(text, file);
  if (source.fatal) return { ok: false, problems: sortProblems(source.problems) };
  // An empty file is a manifest with nothing in it: report what is missing rather than "got an empty value".
  const data = source.data ?? {};
  const parsed = manifestSchema.safeParse(data);
  const problems: ManifestProblem[] = [...source.problems];
  if (!parsed.success) problems.push(...problemsFromIssues(parsed.error.issues, manifestSchema, { ...source, data }, file));
  if (problems.length > 0 || !parsed.success) return { ok: false, problems: sortProblems(problems) };
  return { ok: true, manifest: compileDocument(parsed.data) };
}

/** Reads and compiles a manifest; `target` is the file or the directory holding `kairos.yaml`. */
export async function loadManifestFile(target: string): Promise<ManifestResult> {
  let file = target;
  try {
    if ((await stat(target)).isDirectory()) file = path.join(target, MANIFEST_FILE_NAME);
    return compileManifestText(await readFile(file, 'utf8'), file);
  } catch (e) {
    const reason = e instanceof Error && 'code' in e && e.code === 'ENOENT' ? 'no such file' : e instanceof Error ? e.message : String(e);
    return { ok: false, problems: [{ file, line: 1, col: 1, path: '', code: 'unreadable', message: `cannot read the manifest: ${reason}` }] };
  }
}

function ms(duration: string): number {
  const value = parseDuration(duration);
  // The schema accepted it, so it parses; a null here is a bug in the schema's duration pattern.
  if (value === null) throw new Error(`duration "${duration}" passed the schema but does not parse`);
  return value;
}

function compileRetries(r: RetriesDocument): RetryPolicy {
  const policy = typeof r === 'number' ? { max: r } : r;
  return {
    max: policy.max,
    delayMs: ms(policy.delay ?? DEFAULTS.retryDelay),
    backoff: policy.backoff ?? DEFAULTS.backoff,
    maxDelayMs: ms(policy.max_delay ?? DEFAULTS.maxDelay),
    jitter: policy.jitter ?? DEFAULTS.jitter,
    on: [...new Set(policy.on ?? DEFAULTS.retryOn)],
  };
}

/** Checked by the schema already; strict parsing only turns the YAML value into the param's type. */
function paramValue(spec: ParamSpec['type'], raw: unknown): ParamValue {
  const parsed = parseParamValue(spec, raw, 'strict');
  if (!parsed.ok) throw new Error(`param value ${String(raw)} passed the schema but does not parse`);
  return parsed.value;
}

function compileParams(params: JobDocument['params']): Record<string, ParamSpec> {
  return Object.fromEntries(
    Object.entries(params ?? {}).map(([name, p]) => {
      const type = p.type ?? DEFAULTS.paramType;
      const spec: ParamSpec = {
        type,
        required: p.required ?? DEFAULTS.required,
        ...(p.default === undefined ? {} : { default: paramValue(type, p.default) }),
        ...(p.enum === undefined ? {} : { enum: p.enum.map((v) => paramValue(type, v)) }),
        ...(p.description === undefined ? {} : { description: p.description }),
      };
      return [name, spec];
    }),
  );
}

function compileNotify(rules: readonly NotifyRuleDocument[], at: string): NotifyRule[] {
  return rules.map((r, i): NotifyRule => {
    const base = { id: `${at}[${i}]`, webhook: r.webhook, format: r.format ?? NOTIFY_DEFAULT_FORMAT };
    switch (r.on) {
      case 'failure':
      case 'recovery':
        return { ...base, on: r.on };
      case 'late':
        return { ...base, on: 'late', startMs: r.late?.start === undefined ? null : ms(r.late.start), finishMs: r.late?.finish === undefined ? null : ms(r.late.finish) };
      case 'metric':
        return { ...base, on: 'metric', metric: r.metric?.name ?? '', above: r.metric?.above ?? null, below: r.metric?.below ?? null };
    }
  });
}

/** A job's or a pipeline's `schedule`: a cron string alone, or the mapping, with the defaults filled in. */
function compileSchedule(doc: JobDocument['schedule'], timezone: string): CompiledSchedule | null {
  if (doc === undefined) return null;
  const s = typeof doc === 'string' ? { cron: doc } : doc;
  return {
    cron: s.cron,
    timezone: s.timezone ?? timezone,
    catchup: s.catchup ?? DEFAULTS.catchup,
    maxCatchup: s.max_catchup ?? DEFAULTS.maxCatchup,
    concurrency: s.concurrency ?? DEFAULTS.concurrency,
  };
}

function compileJob(name: string, j: JobDocument, defaults: CompiledManifest['defaults']): CompiledJob {
  const run: JobRun =
    typeof j.run === 'string'
      ? { kind: 'shell', script: j.run }
      : Array.isArray(j.run)
        ? { kind: 'argv', argv: [...j.run] }
        : { kind: 'notebook', notebook: normaliseWorkdir(j.run.notebook) ?? j.run.notebook, kernel: j.run.kernel ?? null };
  const schedule = compileSchedule(j.schedule, defaults.timezone);
  return {
    name,
    description: j.description ?? null,
    run,
    schedule,
    params: compileParams(j.params),
    env: Object.fromEntries(Object.entries(j.env ?? {}).map(([k, v]) => [k, String(v)])),
    // A service runs until cancelled: `defaults.timeout` does not apply to it, only its own `timeout`.
    timeoutMs: j.timeout === undefined ? (j.service ? null : defaults.timeoutMs) : ms(j.timeout),
    ...(run.kind === 'notebook' ? { cellTimeoutMs: j.cell_timeout === undefined ? null : ms(j.cell_timeout) } : {}),
    graceMs: j.grace === undefined ? defaults.graceMs : ms(j.grace),
    startTimeoutMs: j.start_timeout === undefined ? null : ms(j.start_timeout),
    retries: j.retries === undefined ? defaults.retries : compileRetries(j.retries),
    pool: j.pool ?? defaults.pool,
    resources: {
      cpu: j.resources?.cpu ?? null,
      memoryBytes: j.resources?.memory === undefined ? null : parseSize(j.resources.memory),
      gpu: j.resources?.gpu ?? null,
    },
    secrets: [...new Set(j.secrets ?? [])],
    workdir: j.workdir === undefined ? null : normaliseWorkdir(j.workdir),
    environment: j.environment ?? null,
    check: j.check === undefined ? null : j.check === true ? [] : [...j.check],
    notify: j.notify === undefined ? defaults.notify : compileNotify(j.notify, `jobs.${name}.notify`),
    network: compileNetwork(j.network, defaults.network),
    inputs: Object.entries(j.inputs ?? {}).map(([input, ref]) => {
      const parsed = parseInputRef(input, ref);
      if (!parsed.ok) throw new Error(`input ${input} passed the schema but does not parse: ${parsed.message}`);
      return parsed.spec;
    }),
    retention: { runs: j.retention?.runs ?? null, days: j.retention?.days ?? null },
    ...(j.service ? { service: { port: j.service.port, health: j.service.health ?? SERVICE_DEFAULTS.health, idleStopMs: j.service.idle_stop === undefined ? null : ms(j.service.idle_stop) } } : {}),
  };
}

/** The directory of a normalised relative path: `.` for a file at the project's root. */
function posixDirname(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '.' : p.slice(0, i);
}

function compileEnvironment(name: string, e: NonNullable<ManifestDocument['environments']>[string]): CompiledEnvironment {
  if (e.python !== undefined) {
    return {
      kind: 'python',
      name,
      interpreter: e.python,
      requirements: e.requirements === undefined ? null : normaliseWorkdir(e.requirements),
      indexUrls: [...(e.index_urls ?? [])],
      systemSitePackages: e.system_site_packages ?? false,
    };
  }
  if (e.node !== undefined) return { kind: 'node', name, packageJson: normaliseWorkdir(e.node) ?? 'package.json' };
  if (e.image !== undefined) return { kind: 'image', name, image: e.image, network: e.network ?? 'host' };
  if (e.containerfile !== undefined) {
    const containerfile = normaliseWorkdir(e.containerfile) ?? 'Containerfile';
    const context = e.context === undefined ? posixDirname(containerfile) : (normaliseWorkdir(e.context) ?? '.');
    return { kind: 'containerfile', name, containerfile, context, network: e.network ?? 'host' };
  }
  return { kind: 'system', name };
}

function compileTest(t: NonNullable<ManifestDocument['test']>, environments: Readonly<Record<string, CompiledEnvironment>>, jobs: readonly JobDocument[]): CompiledTest {
  const spec = typeof t === 'string' || Array.isArray(t) ? { run: t } : t;
  const run: RunCommand = typeof spec.run === 'string' ? { kind: 'shell', script: spec.run } : { kind: 'argv', argv: [...spec.run] };
  // Without a named environment, the tests run where the jobs run, when they all agree on one.
  const used = [...new Set(jobs.map((j) => j.environment ?? null))];
  const environment = 'environment' in spec && spec.environment !== undefined ? spec.environment : used.length === 1 && used[0] && environments[used[0]] ? used[0] : null;
  return { run, environment, timeoutMs: ms(('timeout' in spec ? spec.timeout : undefined) ?? '10m') };
}

/** A document the schema accepted → the engine's manifest, every default applied. */
export function compileDocument(doc: ManifestDocument): CompiledManifest {
  const d = doc.defaults ?? {};
  const defaults: CompiledManifest['defaults'] = {
    timezone: d.timezone ?? DEFAULTS.timezone,
    timeoutMs: d.timeout === undefined ? null : ms(d.timeout),
    graceMs: ms(d.grace ?? DEFAULTS.grace),
    retries: compileRetries(d.retries ?? DEFAULTS.retries),
    pool: d.pool ?? DEFAULTS.pool,
    notify: compileNotify(d.notify ?? [], 'defaults.notify'),
    network: compileNetwork(d.network, null),
  };
  const pools: Record<string, CompiledPool> = { [DEFAULT_POOL]: { name: DEFAULT_POOL, concurrency: null } };
  for (const [name, p] of Object.entries(doc.pools ?? {})) pools[name] = { name, concurrency: p.concurrency ?? null };
  const environments = Object.fromEntries(Object.entries(doc.environments ?? {}).map(([name, e]) => [name, compileEnvironment(name, e)]));
  return {
    version: COMPILED_MANIFEST_VERSION,
    project: doc.project,
    defaults,
    pools,
    environments,
    test: doc.test === undefined ? null : compileTest(doc.test, environments, Object.values(doc.jobs ?? {})),
    jobs: Object.fromEntries(Object.entries(doc.jobs ?? {}).map(([name, j]) => [name, compileJob(name, j, defaults)])),
    ...(doc.pipelines === undefined ? {} : { pipelines: Object.fromEntries(Object.entries(doc.pipelines).map(([name, p]) => [name, compilePipeline(name, p, defaults)])) }),
  };
}

function compilePipeline(name: string, p: PipelineDocument, defaults: CompiledManifest['defaults']): CompiledPipeline {
  const steps = Object.fromEntries(
    Object.entries(p.steps).map(([stepName, raw]): [string, CompiledStep] => {
      const s = typeof raw === 'string' ? { job: raw } : raw;
      return [stepName, { name: stepName, job: s.job, needs: [...new Set(s.needs ?? [])], params: { ...(s.params ?? {}) }, map: s.map ?? null }];
    }),
  );
  const order = topologicalOrder(Object.fromEntries(Object.values(steps).map((s) => [s.name, s.needs])));
  const params = Object.fromEntries(
    Object.entries(p.params ?? {}).map(([pname, spec]) => {
      const type = spec.type ?? DEFAULTS.paramType;
      const out: PipelineParamSpec = {
        type,
        required: spec.required ?? DEFAULTS.required,
        ...(spec.default === undefined ? {} : { default: type === 'list' ? [...(spec.default as readonly ParamValue[])] : paramValue(type, spec.default) }),
        ...(spec.enum === undefined || type === 'list' ? {} : { enum: spec.enum.map((v) => paramValue(type, v)) }),
        ...(spec.description === undefined ? {} : { description: spec.description }),
      };
      return [pname, out];
    }),
  );
  const schedule = compileSchedule(p.schedule, defaults.timezone);
  return {
    name,
    description: p.description ?? null,
    params,
    steps: order.map((s) => steps[s] as CompiledStep),
    schedule,
    timeoutMs: p.timeout === undefined ? null : ms(p.timeout),
    maxParallel: p.max_parallel ?? DEFAULT_MAX_PARALLEL,
    notify: p.notify === undefined ? [] : compileNotify(p.notify, `pipelines.${name}.notify`),
  };
}
