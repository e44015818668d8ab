/**
 * Compiled manifests as stored: each deployment keeps the manifest it was compiled with, as JSON, for ever.
 * `upgradeCompiledManifest` brings one compiled by an earlier Kairos to the current shape when it is read
 * back, so the engine only ever sees `CompiledManifest` as it is today.
 *
 * Versions: 1 (no `version` field): before versioning; it may lack `notify` (jobs and defaults), `check`,
 * `test`, `environments`, and the jobs' `environment`, `secrets`, `workdir` and `resources`, which were added
 * over time. 2: every field present.
 */
import { KairosError } from '../model/errors.js';
import { COMPILED_MANIFEST_VERSION, type CompiledJob, type CompiledManifest } from '../model/job.js';
import { NO_NETWORK } from '../model/network.js';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function upgradeJob(job: Json, defaultNotify: unknown): CompiledJob {
  return {
    ...job,
    environment: job.environment ?? null,
    secrets: job.secrets ?? [],
    workdir: job.workdir ?? null,
    resources: job.resources ?? { cpu: null, memoryBytes: null, gpu: null },
    check: job.check ?? null,
    notify: job.notify ?? defaultNotify,
  } as unknown as CompiledJob;
}

/** From version 1 (unversioned) to 2. */
function from1(m: Json): Json {
  const defaults = isObject(m.defaults) ? m.defaults : {};
  const notify = defaults.notify ?? [];
  const jobs = isObject(m.jobs) ? m.jobs : {};
  return {
    ...m,
    version: 2,
    defaults: { ...defaults, notify },
    pools: m.pools ?? { default: { name: 'default', concurrency: null } },
    environments: m.environments ?? {},
    test: m.test ?? null,
    jobs: Object.fromEntries(Object.entries(jobs).map(([name, j]) => [name, upgradeJob(isObject(j) ? j : {}, notify)])),
  };
}

/**
 * Fields added to version 2 without changing its shape for older readers: a job's `inputs` (none) and
 * `retention` (the server's defaults). Filled in whatever version the manifest was stored with.
 */
function withAdditions(m: Json): Json {
  const jobs = isObject(m.jobs) ? m.jobs : {};
  if (Object.values(jobs).every((j) => isObject(j) && j.inputs !== undefined && j.retention !== undefined)) return m;
  const filled = (j: unknown) => (isObject(j) ? { ...j, inputs: j.inputs ?? [], retention: j.retention ?? { runs: null, days: null } } : j);
  return { ...m, jobs: Object.fromEntries(Object.entries(jobs).map(([name, j]) => [name, filled(j)])) };
}

/** A stored compiled manifest (parsed JSON) in the current shape. Refuses one written by a newer Kairos. */
export function upgradeCompiledManifest(json: unknown): CompiledManifest {
  if (!isObject(json) || typeof json.project !== 'string' || !isObject(json.jobs)) throw new KairosError('internal', 'a stored compiled manifest is not an object with a project and jobs');
  const version = json.version === undefined ? 1 : json.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) throw new KairosError('internal', `a stored compiled manifest has version ${JSON.stringify(version)}`);
  if (version > COMPILED_MANIFEST_VERSION) {
    throw new KairosError('internal', `deployment manifest of project ${json.project} was compiled by a newer Kairos (version ${version}; this one reads up to ${COMPILED_MANIFEST_VERSION}): upgrade Kairos`);
  }
  let m: Json = json;
  if (version < 2) m = from1(m);
  return withAdditions(withNetwork(m)) as unknown as CompiledManifest;
}

/** `network` (jobs and defaults) came after version 2 without changing it: a manifest stored before has none. */
function withNetwork(m: Json): Json {
  const defaults = isObject(m.defaults) ? m.defaults : {};
  const jobs = isObject(m.jobs) ? m.jobs : {};
  if (defaults.network !== undefined && Object.values(jobs).every((j) => isObject(j) && j.network !== undefined)) return m;
  const network = defaults.network ?? NO_NETWORK;
  return {
    ...m,
    defaults: { ...defaults, network },
    jobs: Object.fromEntries(Object.entries(jobs).map(([name, j]) => [name, isObject(j) && j.network === undefined ? { ...j, network } : j])),
  };
}

/** A stored manifest_json column, parsed and upgraded. */
export function readCompiledManifest(manifestJson: string): CompiledManifest {
  return upgradeCompiledManifest(JSON.parse(manifestJson) as unknown);
}
