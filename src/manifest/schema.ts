/**
 * THE definition of `kairos.yaml`. Validation (issues.ts), the JSON Schema (json-schema.ts), the `init`
 * template (template.ts) and the reference page (reference.ts) are all generated from it, so a key is added,
 * documented and checked here and nowhere else. The compiler (compile.ts) turns a document this schema
 * accepts into the engine's `CompiledManifest`, applying `DEFAULTS`.
 *
 * Keys are snake_case as users write them. No zod transforms or `.default()`: this schema types the document
 * the user wrote; defaults that depend on other keys (a schedule's time zone) are the compiler's job.
 */
import * as z from 'zod';
import { CATCHUP_POLICIES, CONCURRENCY_POLICIES, PARAM_TYPES, RETRY_ON, type ParamType } from '../model/job.js';
import {
  NAME_RULES,
  cronValue,
  documented,
  durationValue,
  expecting,
  isRecord,
  nameValue,
  namedMap,
  relativePathValue,
  report,
  sizeValue,
  timeZoneValue,
} from './fields.js';
import { parseParamValue, paramEnvName } from './params.js';
import { notifyRules } from './notify-schema.js';
import { networkSpec } from './network-schema.js';
import { inputsValue, retentionValue } from './inputs-schema.js';
import { serviceSpec } from './service-schema.js';
import { didYouMean, listNames, show } from './problems.js';
import { DEFAULT_MAX_PARALLEL, PIPELINE_PARAM_TYPES, findCycle, referencesIn } from '../model/pipeline.js';

/** Constant defaults, applied by the compiler and shown in the schema and docs. */
export const DEFAULTS = {
  timezone: 'UTC',
  grace: '10s',
  pool: 'default',
  retries: 0,
  catchup: 'latest',
  concurrency: 'forbid',
  maxCatchup: 100,
  retryDelay: '10s',
  backoff: 2,
  maxDelay: '1h',
  jitter: 0,
  retryOn: RETRY_ON,
  paramType: 'string',
  required: false,
} as const;

/** The pool every manifest has, declared or not. */
export const DEFAULT_POOL = DEFAULTS.pool;

function oneOf<const T extends readonly [string, ...string[]]>(values: T): z.ZodEnum<{ [K in T[number]]: K }> {
  return expecting(z.enum(values), `one of ${listNames(values)}`);
}

const integerAtLeast = (min: number) => expecting(z.int().min(min), `an integer ≥ ${min}`);

// ---- retries -----------------------------------------------------------------------------------------------

const retryPolicy = z.strictObject({
  max: documented(integerAtLeast(0), { description: 'Retries after the first attempt (0 = a single attempt).' }),
  delay: documented(durationValue(), { description: 'Wait before the first retry.', default: DEFAULTS.retryDelay }).optional(),
  backoff: documented(expecting(z.number().min(1), 'a number ≥ 1'), {
    description: 'Multiplier applied to the delay after each retry; 1 keeps the delay constant.',
    default: DEFAULTS.backoff,
  }).optional(),
  max_delay: documented(durationValue(), { description: 'Longest wait between two attempts.', default: DEFAULTS.maxDelay }).optional(),
  jitter: documented(expecting(z.number().min(0).max(1), 'a number from 0 to 1'), {
    description: 'Fraction of each delay that is randomised, so that many runs failing together do not retry together.',
    default: DEFAULTS.jitter,
  }).optional(),
  on: documented(expecting(z.array(oneOf(RETRY_ON)).min(1), `a non-empty list of ${listNames(RETRY_ON)}`), {
    description: 'Which endings are retried: `failed` (non-zero exit), `timed_out`, `lost` (the worker vanished).',
    default: [...DEFAULTS.retryOn],
  }).optional(),
});

const retries = (defaultDoc: { default: number } | { defaultText: string }) =>
  documented(
    expecting(
      z.union([z.int().min(0), retryPolicy]),
      'an integer ≥ 0 (a retry count) or a mapping with max, delay, backoff, max_delay, jitter, on',
    ),
    {
      description: `How failed runs are retried: a count (then the delay is ${DEFAULTS.retryDelay}, doubling each time), or a mapping.`,
      ...defaultDoc,
    },
  ).optional();

// ---- schedules ---------------------------------------------------------------------------------------------

const cronDescription = 'Cron expression: 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first; or a macro such as `@daily`. Quote it in YAML when it starts with `*` or `@`.';

const scheduleMapping = z.strictObject({
  cron: documented(cronValue(), { description: cronDescription }),
  timezone: documented(timeZoneValue(), { description: 'IANA time zone the expression is evaluated in.', defaultText: '`defaults.timezone`' }).optional(),
  catchup: documented(oneOf(CATCHUP_POLICIES), {
    description:
      'After downtime or a pause: `none` skips the missed ticks, `latest` runs the most recent one, `all` runs every missed tick, oldest first, up to `max_catchup`. Skipped ticks are recorded.',
    default: DEFAULTS.catchup,
  }).optional(),
  concurrency: documented(oneOf(CONCURRENCY_POLICIES), {
    description:
      'When a tick comes while a run of the job is still active: `allow` starts another, `forbid` skips the tick (recorded as a skipped run), `queue` starts it after the active one, `replace` cancels the active one.',
    default: DEFAULTS.concurrency,
  }).optional(),
  max_catchup: documented(integerAtLeast(1), {
    description: 'Most runs `catchup: all` creates after one downtime; older missed ticks are recorded as skipped.',
    default: DEFAULTS.maxCatchup,
  }).optional(),
});

// ---- params ------------------------------------------------------------------------------------------------

const paramValue = expecting(z.union([z.string(), z.number(), z.boolean()]), 'a string, a number or true/false');

function isParamType(v: unknown): v is ParamType {
  return typeof v === 'string' && (PARAM_TYPES as readonly string[]).includes(v);
}

/** `default` and `enum` must fit `type`, and `default` must be one of `enum`. */
function checkParamValues(spec: unknown, ctx: z.core.$RefinementCtx): void {
  if (!isRecord(spec)) return;
  let type: ParamType = DEFAULTS.paramType;
  if (isParamType(spec.type)) type = spec.type;
  else if (spec.type !== undefined) return;
  const typeNote = spec.type === undefined ? ' (the param has no `type`, so it is a string)' : '';
  let enumValues: unknown[] | undefined;
  if (Array.isArray(spec.enum)) {
    enumValues = [];
    spec.enum.forEach((entry, i) => {
      const parsed = parseParamValue(type, entry, 'strict');
      if (parsed.ok) enumValues?.push(parsed.value);
      else report(ctx, 'invalid_default', `expected ${parsed.expected}${typeNote}, got ${show(entry)}`, ['enum', i]);
    });
  }
  if (spec.default === undefined) return;
  const parsed = parseParamValue(type, spec.default, 'strict');
  if (!parsed.ok) {
    report(ctx, 'invalid_default', `expected ${parsed.expected}${typeNote}, got ${show(spec.default)}`, ['default']);
  } else if (enumValues !== undefined && enumValues.length > 0 && !enumValues.includes(parsed.value)) {
    const hint = typeof parsed.value === 'string' ? didYouMean(parsed.value, enumValues.map(String)) : '';
    report(ctx, 'invalid_default', `expected one of the enum values ${enumValues.map(show).join(', ')}, got ${show(parsed.value)}${hint}`, ['default']);
  }
  if (spec.required === true) {
    report(ctx, 'invalid_default', 'a required param cannot have a default: remove `required: true` or the `default`', ['required']);
  }
}

const paramSpec = z
  .strictObject({
    type: documented(oneOf(PARAM_TYPES), {
      description: `Type of the value: ${PARAM_TYPES.map((t) => `\`${t}\``).join(', ')}. Dates are written YYYY-MM-DD.`,
      default: DEFAULTS.paramType,
    }).optional(),
    default: documented(paramValue, { description: 'Value used when none is given; must fit `type` and `enum`.' }).optional(),
    required: documented(expecting(z.boolean(), 'true or false'), {
      description: 'Whether a value must be given (a required param has no default).',
      default: DEFAULTS.required,
    }).optional(),
    enum: documented(expecting(z.array(paramValue).min(1), 'a non-empty list of values'), { description: 'The only values allowed.' }).optional(),
    description: documented(z.string(), { description: 'What the param means, shown by the CLI and the dashboard.' }).optional(),
  })
  .superRefine(checkParamValues, { when: (payload) => isRecord(payload.value) });

/** Two param names equal once upper-cased would be the same `KAIROS_PARAM_<NAME>` variable. */
function checkParamCollisions(names: readonly string[], ctx: z.core.$RefinementCtx): void {
  const first = new Map<string, string>();
  for (const name of names) {
    const env = paramEnvName(name);
    const earlier = first.get(env);
    if (earlier === undefined) first.set(env, name);
    else report(ctx, 'duplicate_name', `params "${earlier}" and "${name}" would both be the environment variable ${env}; rename one`, [name], 'key');
  }
}

function checkReservedEnv(names: readonly string[], ctx: z.core.$RefinementCtx): void {
  for (const name of names) {
    if (name.toUpperCase().startsWith('KAIROS_')) {
      report(ctx, 'reserved_name', `env var "${name}" is reserved: Kairos sets the variables starting with KAIROS_ itself`, [name], 'key');
    }
  }
}

// ---- jobs --------------------------------------------------------------------------------------------------

const argvItem = expecting(z.string(), 'a string (quote numbers, e.g. "5")');

const notebookRun = z.strictObject({
  notebook: documented(
    expecting(relativePathValue().regex(/\.ipynb$/), 'a path to a .ipynb file relative to the project directory, such as "notebooks/report.ipynb"', 'invalid_path'),
    { description: 'The notebook, relative to the project directory. Its cell tagged `parameters` is followed by a cell with the run\'s params.' },
  ),
  kernel: documented(nameValue('a kernel name', NAME_RULES.kernel), {
    description: 'The Jupyter kernel to run it with, as named in the job environment (`jupyter kernelspec list`).',
    defaultText: "the environment's own Python for a Python notebook, else the notebook's kernel",
  }).optional(),
});

/** Keys that only mean something for a notebook job. */
function checkNotebookKeys(spec: unknown, ctx: z.core.$RefinementCtx): void {
  if (!isRecord(spec)) return;
  const notebook = isRecord(spec.run);
  if (spec.cell_timeout !== undefined && !notebook) report(ctx, 'invalid_value', '`cell_timeout` applies to notebook jobs only (`run: {notebook: PATH.ipynb}`)', ['cell_timeout'], 'key');
  if (notebook && Array.isArray(spec.check)) report(ctx, 'invalid_value', 'a notebook job takes `check: true` (it runs the notebook with its default params), not arguments', ['check']);
}

const job = expecting(z.strictObject({
  description: documented(z.string(), { description: 'What the job does, shown in listings and the dashboard.' }).optional(),
  run: documented(
    expecting(
      z.union([
        z.string().regex(/\S/),
        z.array(argvItem).min(1).superRefine((argv, ctx) => {
          if (argv[0] === '') report(ctx, 'invalid_value', 'expected the program to run, got an empty string', [0]);
        }),
        notebookRun,
      ]),
      'a command (a string, run by /bin/sh -c), a non-empty list of strings (a program and its arguments), or a mapping with `notebook` (a .ipynb file)',
    ),
    {
      description:
        'What to run. A string is run by `/bin/sh -c`; a list is a program and its arguments, run without a shell; `{notebook: PATH.ipynb}` executes a Jupyter notebook in the job\'s environment (docs/notebooks.md). Params arrive as environment variables (`KAIROS_PARAM_<NAME>`), never spliced into the command; a notebook also gets them, typed, in a cell after its `parameters` cell.',
    },
  ),
  schedule: documented(
    expecting(z.union([cronValue(), scheduleMapping]), 'a cron expression or a mapping with cron, timezone, catchup, concurrency, max_catchup'),
    { description: 'When the job runs by itself: a cron expression, or a mapping with `cron` and options. Without it the job runs only on demand.' },
  ).optional(),
  params: documented(namedMap('param', NAME_RULES.variable, paramSpec, checkParamCollisions), {
    description:
      'Typed parameters, given at run time (`kairos run JOB -p NAME=VALUE`) and checked before the run is created. Each reaches the process as the environment variable `KAIROS_PARAM_<NAME>` (name upper-cased).',
  }).optional(),
  env: documented(namedMap('env var', NAME_RULES.variable, expecting(z.union([z.string(), z.number(), z.boolean()]), 'a string, a number or true/false'), checkReservedEnv), {
    description: 'Environment variables of the process; numbers and booleans become text. Names starting with `KAIROS_` are reserved.',
  }).optional(),
  timeout: documented(durationValue({ positive: true }), {
    description: 'Longest a run may take; then it is stopped (TERM, then KILL after `grace`) and ends `timed_out`.',
    defaultText: '`defaults.timeout`',
  }).optional(),
  cell_timeout: documented(durationValue({ positive: true }), {
    description: 'A notebook job\'s limit on each cell (whole seconds, rounded up): a cell that runs longer fails the run, named in its reason. `timeout` still bounds the whole run.',
    defaultText: 'no limit',
  }).optional(),
  grace: documented(durationValue(), { description: 'Time between TERM and KILL when a run is timed out or cancelled.', defaultText: '`defaults.grace`' }).optional(),
  start_timeout: documented(durationValue({ positive: true }), {
    description:
      'Longest a run may wait to start (no worker of its pool free, or none that offers its `resources`); then it ends `failed` with reason code `start_timeout` and the reason it waited. Without it a run waits as long as it takes.',
  }).optional(),
  retries: retries({ defaultText: '`defaults.retries`' }),
  pool: documented(z.string(), { description: 'Pool the job runs in (an entry of `pools`, or `default`).', defaultText: '`defaults.pool`' }).optional(),
  resources: documented(
    z.strictObject({
      cpu: documented(expecting(z.number().positive(), 'a number > 0'), { description: 'CPU cores; may be fractional, e.g. 0.5.' }).optional(),
      memory: documented(sizeValue(), { description: 'Memory: `512Mi`, `2Gi` (powers of 1024), `1G`, `100M` (powers of 1000), or a number of bytes.' }).optional(),
      gpu: documented(integerAtLeast(0), { description: 'GPUs.' }).optional(),
    }),
    { description: 'What a run needs from the machine that runs it.' },
  ).optional(),
  secrets: documented(expecting(z.array(nameValue('a secret name', NAME_RULES.secret)), 'a list of secret names'), {
    description: 'Names of secrets the run receives as environment variables of the same name; their values are masked in logs.',
  }).optional(),
  workdir: documented(relativePathValue(), {
    description: 'Directory the command runs in, relative to the project directory (the one holding kairos.yaml); it may not leave it.',
    defaultText: 'the project directory',
  }).optional(),
  environment: documented(z.string(), { description: 'Name of an entry of `environments` to run in.' }).optional(),
  check: documented(expecting(z.union([z.literal(true), z.array(argvItem)]), 'true, or a list of arguments'), {
    description:
      '`kairos check` runs the job once as a smoke test, inside its environment, with its default params and `KAIROS_CHECK=1`: `true` runs its command as is; a list of arguments is appended to it (to an argv `run`; a shell `run` gets them as `"$@"`).',
  }).optional(),
  notify: notifyRules('`defaults.notify`'),
  network: networkSpec('`defaults.network`'),
  inputs: inputsValue(),
  retention: retentionValue(),
  service: serviceSpec(),
}).superRefine(checkNotebookKeys, { when: (payload) => isRecord(payload.value) }), 'a job: a mapping with at least `run`');

// ---- pipelines ---------------------------------------------------------------------------------------------

const pipelineParamSpec = z
  .strictObject({
    type: documented(oneOf(PIPELINE_PARAM_TYPES), {
      description: `Type of the value: ${PIPELINE_PARAM_TYPES.map((t) => `\`${t}\``).join(', ')}. A \`list\` is a list of values, given at run time as \`-p NAME=a,b,c\`; \`map\` fans a step out over one.`,
      default: DEFAULTS.paramType,
    }).optional(),
    default: documented(expecting(z.union([paramValue, z.array(paramValue)]), 'a string, a number, true/false, or a list of them (for a `list`)'), {
      description: 'Value used when none is given; must fit `type`.',
    }).optional(),
    required: documented(expecting(z.boolean(), 'true or false'), { description: 'Whether a value must be given.', default: DEFAULTS.required }).optional(),
    enum: documented(expecting(z.array(paramValue).min(1), 'a non-empty list of values'), { description: 'The only values allowed (not for a `list`).' }).optional(),
    description: documented(z.string(), { description: 'What the param means.' }).optional(),
  })
  .superRefine(
    (spec, ctx) => {
      if (!isRecord(spec)) return;
      if (spec.type === 'list') {
        if (spec.default !== undefined && !Array.isArray(spec.default)) report(ctx, 'invalid_default', `expected a list for a \`list\` param, got ${show(spec.default)}`, ['default']);
        if (spec.enum !== undefined) report(ctx, 'invalid_value', '`enum` does not apply to a `list` param', ['enum']);
        return;
      }
      if (Array.isArray(spec.default)) {
        report(ctx, 'invalid_default', `a list is a default only for a param of \`type: list\``, ['default']);
        return;
      }
      checkParamValues(spec, ctx);
    },
    { when: (payload) => isRecord(payload.value) },
  );

const stepSpec = expecting(
  z.union([
    nameValue('a job name', NAME_RULES.identifier),
    z.strictObject({
      job: documented(z.string(), { description: 'The job this step runs (an entry of `jobs`). Each step is an ordinary run of it.' }),
      needs: documented(expecting(z.array(z.string()), 'a list of step names'), {
        description: 'Steps that must all succeed before this one starts; if one of them fails, this step is skipped (reason `upstream_failed`).',
        defaultText: 'none (starts at once)',
      }).optional(),
      params: documented(z.record(z.string(), paramValue), {
        description:
          'Values of the job\'s params for this step. `${{ params.NAME }}` is a pipeline param, `${{ item }}` the item of a `map`; replaced by Kairos, never by a shell. A pipeline param the job declares under the same name is passed without being listed.',
      }).optional(),
      map: documented(z.string(), {
        description: 'A pipeline param of `type: list`: one run of the step per item (`${{ item }}` in `params`), at most `max_parallel` at once; steps that need it wait for all items.',
      }).optional(),
    }),
  ]),
  'a job name, or a mapping with job, needs, params, map',
);

const pipeline = expecting(
  z.strictObject({
    description: documented(z.string(), { description: 'What the pipeline does.' }).optional(),
    steps: documented(expecting(z.record(z.string(), stepSpec), 'a mapping keyed by step name'), {
      description: 'The steps, by name: each `{job, needs, params, map}`, or a job name alone (a step of that job with no needs).',
    }),
    params: documented(namedMap('param', NAME_RULES.variable, pipelineParamSpec), {
      description: 'Typed params of a pipeline run (`kairos run PIPELINE -p NAME=VALUE`), passed to steps by `${{ params.NAME }}` or by name.',
    }).optional(),
    schedule: documented(
      expecting(z.union([cronValue(), scheduleMapping]), 'a cron expression or a mapping with cron, timezone, catchup, concurrency, max_catchup'),
      { description: 'When the pipeline runs by itself; `catchup` and `concurrency` as for a job (concurrency counts pipeline runs).' },
    ).optional(),
    timeout: documented(durationValue({ positive: true }), { description: 'Longest a pipeline run may take; then its live steps are cancelled and it ends `failed`.', defaultText: 'no limit' }).optional(),
    max_parallel: documented(integerAtLeast(1), { description: 'Most runs of one mapped step live at once.', default: DEFAULT_MAX_PARALLEL }).optional(),
    notify: notifyRules(),
  }),
  'a pipeline: a mapping with at least `steps`',
);

/** Steps name jobs and steps that exist, form no cycle, and give only params their jobs declare. */
function checkPipelines(doc: unknown, ctx: z.core.$RefinementCtx): void {
  if (!isRecord(doc) || !isRecord(doc.pipelines)) return;
  const jobs = isRecord(doc.jobs) ? doc.jobs : {};
  const jobNames = Object.keys(jobs);
  for (const [name, p] of Object.entries(doc.pipelines)) {
    if (Object.hasOwn(jobs, name)) report(ctx, 'duplicate_name', `pipeline "${name}" has the name of a job: \`kairos run ${name}\` would not know which to start; rename one`, ['pipelines', name], 'key');
    if (!isRecord(p)) continue;
    if (Array.isArray(p.notify)) {
      p.notify.forEach((rule: unknown, i: number) => {
        if (isRecord(rule) && (rule.on === 'late' || rule.on === 'metric')) {
          report(ctx, 'invalid_value', `a pipeline alerts on \`failure\` and \`recovery\`; \`${rule.on}\` rules belong in the notify of the steps' jobs`, ['pipelines', name, 'notify', i, 'on']);
        }
      });
    }
    if (!isRecord(p.steps)) continue;
    const at = ['pipelines', name, 'steps'];
    const pparams = isRecord(p.params) ? p.params : {};
    const stepNames = Object.keys(p.steps);
    const needs: Record<string, string[]> = {};
    for (const [stepName, raw] of Object.entries(p.steps)) {
      if (!NAME_RULES.identifier.pattern.test(stepName)) report(ctx, 'invalid_name', `step name "${stepName}" is not valid: use ${NAME_RULES.identifier.rule}`, [...at, stepName], 'key');
      const step = typeof raw === 'string' ? { job: raw } : isRecord(raw) ? raw : null;
      if (step === null) continue;
      const jobAt = typeof raw === 'string' ? [...at, stepName] : [...at, stepName, 'job'];
      const job = typeof step.job === 'string' && Object.hasOwn(jobs, step.job) ? jobs[step.job] : undefined;
      if (typeof step.job === 'string' && job === undefined) {
        report(ctx, 'unknown_reference', `unknown job ${show(step.job)}${didYouMean(step.job, jobNames, `jobs: ${listNames(jobNames)}`)}`, jobAt);
      }
      const stepNeeds = Array.isArray(step.needs) ? step.needs.filter((n): n is string => typeof n === 'string') : [];
      needs[stepName] = stepNeeds;
      (Array.isArray(step.needs) ? step.needs : []).forEach((n: unknown, i: number) => {
        if (typeof n !== 'string') return;
        if (n === stepName) report(ctx, 'cycle', `step "${stepName}" needs itself`, [...at, stepName, 'needs', i]);
        else if (!stepNames.includes(n)) report(ctx, 'unknown_reference', `unknown step ${show(n)}${didYouMean(n, stepNames, `steps: ${listNames(stepNames)}`)}`, [...at, stepName, 'needs', i]);
      });
      let mapsItem = false;
      if (step.map !== undefined && typeof step.map === 'string') {
        const spec = Object.hasOwn(pparams, step.map) ? pparams[step.map] : undefined;
        if (spec === undefined) report(ctx, 'unknown_reference', `map: unknown pipeline param ${show(step.map)}${didYouMean(step.map, Object.keys(pparams), `params: ${listNames(Object.keys(pparams))}`)}`, [...at, stepName, 'map']);
        else if (!isRecord(spec) || spec.type !== 'list') report(ctx, 'invalid_value', `map fans out over a list: param "${step.map}" is ${isRecord(spec) && typeof spec.type === 'string' ? `a ${spec.type}` : 'a string'}, not \`type: list\``, [...at, stepName, 'map']);
      }
      const jobParams = job !== undefined && isRecord(job) && isRecord(job.params) ? job.params : {};
      const declared = Object.keys(jobParams);
      if (isRecord(step.params)) {
        for (const [param, value] of Object.entries(step.params)) {
          if (job !== undefined && !declared.includes(param)) {
            report(ctx, 'unknown_reference', `job "${String(step.job)}" has no param "${param}"${didYouMean(param, declared, `its params: ${listNames(declared)}`)}`, [...at, stepName, 'params', param], 'key');
          }
          if (typeof value !== 'string') continue;
          for (const ref of referencesIn(value)) {
            if (ref.kind === 'bad') report(ctx, 'invalid_value', `\`\${{ ${ref.text} }}\` is not a reference: use \`\${{ params.NAME }}\` or \`\${{ item }}\``, [...at, stepName, 'params', param]);
            else if (ref.kind === 'item') {
              mapsItem = true;
              if (step.map === undefined) report(ctx, 'invalid_value', '`${{ item }}` is the item of a `map`, and this step has no `map`', [...at, stepName, 'params', param]);
            } else if (!Object.hasOwn(pparams, ref.name)) {
              report(ctx, 'unknown_reference', `unknown pipeline param "${ref.name}"${didYouMean(ref.name, Object.keys(pparams), `params: ${listNames(Object.keys(pparams))}`)}`, [...at, stepName, 'params', param]);
            }
          }
        }
      }
      if (step.map !== undefined && !mapsItem) {
        report(ctx, 'invalid_value', 'a mapped step hands each item to its job: add a param `${{ item }}`, e.g. `params: {region: "${{ item }}"}`', [...at, stepName, 'map']);
      }
      // Required params of the job that nothing gives.
      for (const [param, spec] of Object.entries(jobParams)) {
        if (!isRecord(spec) || spec.required !== true) continue;
        const given = (isRecord(step.params) && Object.hasOwn(step.params, param)) || Object.hasOwn(pparams, param);
        if (!given) report(ctx, 'missing_key', `job "${String(step.job)}" requires param "${param}": give it in \`params\` (or as a pipeline param of that name)`, typeof raw === 'string' ? [...at, stepName] : [...at, stepName, 'job']);
      }
    }
    const cycle = findCycle(needs);
    if (cycle && cycle.length > 2) {
      const first = cycle[0] ?? '';
      report(ctx, 'cycle', `the steps' needs form a cycle: ${cycle.join(' → ')}`, [...at, first, 'needs']);
    }
  }
}

// ---- environments ------------------------------------------------------------------------------------------

const ENV_KINDS = ['python', 'node', 'system', 'image', 'containerfile'] as const;

/** Exactly one of `python`, `node`, `system`, `image`, `containerfile`; each kind's own keys only with it. */
function checkEnvironmentKind(spec: unknown, ctx: z.core.$RefinementCtx): void {
  if (!isRecord(spec)) return;
  const kinds = ENV_KINDS.filter((k) => spec[k] !== undefined && spec[k] !== false);
  if (kinds.length === 0) report(ctx, 'missing_key', `an environment needs one of ${listNames(ENV_KINDS)} (e.g. \`python: "3.11"\`, \`image: python:3.11-slim\` or \`system: true\`)`);
  if (kinds.length > 1) report(ctx, 'invalid_value', `an environment is one kind: choose one of ${listNames(kinds)}`, [kinds[1] ?? '']);
  if (kinds[0] !== 'python') {
    for (const key of ['requirements', 'index_urls', 'system_site_packages']) {
      if (spec[key] !== undefined) report(ctx, 'invalid_value', `\`${key}\` applies to a python environment only`, [key]);
    }
  }
  if (kinds[0] !== 'containerfile' && spec.context !== undefined) report(ctx, 'invalid_value', '`context` applies to a containerfile environment only', ['context']);
  if (kinds[0] !== 'image' && kinds[0] !== 'containerfile' && spec.network !== undefined) {
    report(ctx, 'invalid_value', '`network` applies to a container environment (`image` or `containerfile`) only', ['network']);
  }
}

/** An image reference as podman and Kubernetes take it: `[host[:port]/]path[:tag][@sha256:digest]`. */
const IMAGE_REF = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

const urlValue = expecting(z.string().regex(/^https?:\/\/[^\s]+$/), 'an http:// or https:// URL');

const environmentSpec = expecting(
  z
    .strictObject({
      python: documented(expecting(z.string().regex(/^(\/\S+|\d+(\.\d+){0,2}|python3?(\.\d+)?)$/), 'a Python version such as "3.11", a command such as "python3", or an absolute path to an interpreter'), {
        description: 'A Python environment with this interpreter: a version (`"3.11"` means `python3.11` on the worker\'s PATH), a command on the PATH (`python3`) or an absolute path such as `/usr/bin/python3`. It must exist on the worker.',
      }).optional(),
      requirements: documented(relativePathValue(), {
        description: 'Requirements file (relative to the project directory) installed with pip: plain requirements, or a lock file with `--hash` pins. Files it includes with `-r`/`-c` count towards the environment\'s hash.',
        defaultText: 'none (an empty environment)',
      }).optional(),
      index_urls: documented(expecting(z.array(urlValue).min(1), 'a non-empty list of http(s) URLs'), {
        description: 'Package indexes (PEP 503 "simple" URLs), the first one primary (put the internal index first); the others are extra indexes.',
        defaultText: "pip's default index",
      }).optional(),
      system_site_packages: documented(expecting(z.boolean(), 'true or false'), {
        description: "Whether the environment also sees the interpreter's own site-packages (e.g. Debian's python3-* packages).",
        default: false,
      }).optional(),
      node: documented(relativePathValue(), {
        description: 'A Node.js environment: the `package.json` (relative to the project directory) whose `package-lock.json` beside it is installed with `npm ci`.',
      }).optional(),
      system: documented(expecting(z.boolean(), 'true'), { description: "No environment: the worker's own tools (what a job without `environment` gets)." }).optional(),
      image: documented(expecting(z.string().max(512).regex(IMAGE_REF), 'an image reference such as "python:3.11-slim", "10.0.0.5:5000/team/etl:2024-06" or "name@sha256:<digest>"'), {
        description:
          'A container image the job runs in (with podman on a `local` worker, as a pod on Kubernetes). The worker pulls it when it lacks it; each attempt records the digest it ran, so a rerun runs the same bytes. See docs/containers.md.',
      }).optional(),
      containerfile: documented(relativePathValue(), {
        description:
          'A Containerfile (Dockerfile) in the project, built by Kairos into the image the job runs in: tagged with the content hash of the Containerfile and its context, built once per hash, pushed to the team\'s registry when the server has one (`--registry`). See docs/containers.md.',
      }).optional(),
      context: documented(relativePathValue(), { description: 'The build context of a `containerfile` environment (relative to the project directory).', defaultText: 'the directory of the Containerfile' }).optional(),
      network: documented(oneOf(['host', 'none']), {
        description: "A container environment's network: `host` (the machine's own) or `none` (no network at all, loopback only). Also used while the image is built.",
        default: 'host',
      }).optional(),
    })
    .superRefine(checkEnvironmentKind, { when: (payload) => isRecord(payload.value) }),
  'a mapping with one of python, node, system, image, containerfile',
);

const testCommand = expecting(
  z.union([
    z.string().regex(/\S/),
    z.array(argvItem).min(1),
    z.strictObject({
      run: documented(expecting(z.union([z.string().regex(/\S/), z.array(argvItem).min(1)]), 'a command string or a list of strings'), { description: 'The test command.' }),
      environment: documented(z.string(), { description: 'The environment it runs in.', defaultText: 'the environment of the jobs, when they all use one' }).optional(),
      timeout: documented(durationValue({ positive: true }), { description: 'Longest the tests may take.', default: '10m' }).optional(),
    }),
  ]),
  'a command string, a list of strings, or a mapping with run, environment, timeout',
);

// ---- the document ------------------------------------------------------------------------------------------

/** `pool` and `environment` values must name something the manifest defines. */
/**
 * No text of the manifest may hold a NUL character (YAML's "\0"): no command, argument, environment variable
 * or name can carry one, so a run of it could never start. Reported where it is, key or value.
 */
function checkNoNul(doc: unknown, ctx: z.core.$RefinementCtx): void {
  const message = 'contains a NUL character (\\u0000), which no command, argument, environment variable or name can hold';
  const walk = (v: unknown, at: PropertyKey[]): void => {
    if (typeof v === 'string') {
      if (v.includes('\0')) report(ctx, 'invalid_value', message, at);
    } else if (Array.isArray(v)) v.forEach((item, i) => walk(item, [...at, i]));
    else if (isRecord(v)) {
      for (const [k, item] of Object.entries(v)) {
        if (k.includes('\0')) report(ctx, 'invalid_value', `the key ${message}`, [...at, k], 'key');
        walk(item, [...at, k]);
      }
    }
  };
  walk(doc, []);
}

function checkReferences(doc: unknown, ctx: z.core.$RefinementCtx): void {
  if (!isRecord(doc)) return;
  const pools = [DEFAULT_POOL, ...(isRecord(doc.pools) ? Object.keys(doc.pools).filter((p) => p !== DEFAULT_POOL) : [])];
  const environments = isRecord(doc.environments) ? Object.keys(doc.environments) : [];
  const checkPool = (value: unknown, at: PropertyKey[]) => {
    if (typeof value !== 'string' || pools.includes(value)) return;
    report(ctx, 'unknown_reference', `unknown pool ${show(value)}${didYouMean(value, pools, `defined pools: ${listNames(pools)}`)}`, at);
  };
  if (isRecord(doc.defaults)) checkPool(doc.defaults.pool, ['defaults', 'pool']);
  if (isRecord(doc.test) && typeof doc.test.environment === 'string' && !environments.includes(doc.test.environment)) {
    report(ctx, 'unknown_reference', `unknown environment ${show(doc.test.environment)}${didYouMean(doc.test.environment, environments, `defined environments: ${listNames(environments) || '(none)'}`)}`, ['test', 'environment']);
  }
  if (!isRecord(doc.jobs)) return;
  for (const [name, j] of Object.entries(doc.jobs)) {
    if (!isRecord(j)) continue;
    checkPool(j.pool, ['jobs', name, 'pool']);
    const env = j.environment;
    if (typeof env === 'string' && !environments.includes(env)) {
      const defined = environments.length === 0 ? 'none is defined (add it under `environments`)' : `defined environments: ${listNames(environments)}`;
      report(ctx, 'unknown_reference', `unknown environment ${show(env)}${didYouMean(env, environments, defined)}`, ['jobs', name, 'environment']);
    }
  }
}

export const manifestSchema = expecting(
  z.strictObject({
    $schema: documented(z.string(), { description: 'Location of the JSON Schema, for editors; Kairos ignores it.' }).optional(),
    project: documented(nameValue('a project name', NAME_RULES.project), {
      description: `Name of the project; its deployments, runs and schedules are kept under it. ${capitalise(NAME_RULES.project.rule)}.`,
    }),
    defaults: documented(
      z.strictObject({
        timezone: documented(timeZoneValue(), { description: 'IANA time zone in which schedules are evaluated.', default: DEFAULTS.timezone }).optional(),
        timeout: documented(durationValue({ positive: true }), {
          description: 'Longest a run may take before it is stopped and ends `timed_out`.',
          defaultText: 'no limit',
        }).optional(),
        grace: documented(durationValue(), { description: 'Time between TERM and KILL when a run is timed out or cancelled.', default: DEFAULTS.grace }).optional(),
        retries: retries({ default: DEFAULTS.retries }),
        pool: documented(z.string(), { description: 'Pool jobs run in.', default: DEFAULTS.pool }).optional(),
        notify: notifyRules(),
        network: networkSpec(),
      }),
      { description: 'Settings every job gets unless it sets its own.' },
    ).optional(),
    pools: documented(
      namedMap(
        'pool',
        NAME_RULES.identifier,
        z.strictObject({
          concurrency: documented(integerAtLeast(1), {
            description: 'Most runs of the pool running at once, across all workers.',
            defaultText: "no limit but the workers' own",
          }).optional(),
        }),
      ),
      { description: `Named groups of workers, with a limit on runs at once. The pool \`${DEFAULT_POOL}\` always exists; declare it to set its limit.` },
    ).optional(),
    environments: documented(namedMap('environment', NAME_RULES.identifier, environmentSpec), {
      description:
        'Named environments jobs run in (`jobs.<job>.environment`): `python` (a virtual environment built from a requirements file), `node` (`npm ci` from a package.json and its lock file), `image` (an existing container image), `containerfile` (an image Kairos builds) or `system` (the worker\'s own tools, the default). A worker builds each environment once per content hash and reuses it; see docs/environments.md and docs/containers.md.',
    }).optional(),
    test: documented(testCommand, {
      description: 'The project\'s test command, run by `kairos check` (and before `kairos deploy`) inside an environment: a command string, an argv list, or a mapping with `run` and `environment`.',
    }).optional(),
    jobs: documented(namedMap('job', NAME_RULES.identifier, job), { description: 'The jobs of the project, by name.' }).optional(),
    pipelines: documented(namedMap('pipeline', NAME_RULES.identifier, pipeline), {
      description: 'Graphs of jobs, by name: steps that need one another, fan out over a list, and pass artifacts along. See docs/pipelines.md.',
    }).optional(),
  }),
  'a mapping with the keys project, defaults, pools, environments, test, jobs, pipelines',
)
  .superRefine(checkReferences, { when: (payload) => isRecord(payload.value) })
  .superRefine(checkPipelines, { when: (payload) => isRecord(payload.value) })
  .superRefine(checkNoNul, { when: (payload) => isRecord(payload.value) })
  .meta({
    title: 'Kairos manifest (kairos.yaml)',
    description: '`kairos.yaml` describes the jobs of one project: what they run, when, with which parameters, limits and retries.',
  });

/** The document as a user writes it, once the schema accepts it. */
export type ManifestDocument = z.infer<typeof manifestSchema>;
export type JobDocument = z.infer<typeof job>;
export type RetriesDocument = NonNullable<JobDocument['retries']>;
export type PipelineDocument = z.infer<typeof pipeline>;

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
