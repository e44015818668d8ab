/** The checks that ask the target server: secrets and pools the jobs name. */
import { ApiError, ConnectionError, type KairosClient } from '../api/client.js';
import type { CompiledManifest } from '../model/job.js';
import { coerceError } from '../model/errors.js';
import type { Check } from './types.js';
import { placementWarnings, type LiveWorker } from '../model/placement.js';

type WorkerListing = Awaited<ReturnType<KairosClient['workers']>>;

/** The live workers of a listing, as placement sees them (workers that did not say what they offer take anything). */
export function liveWorkersOf(workers: WorkerListing): LiveWorker[] {
  return workers
    .filter((w) => w.alive)
    .map((w) => ({
      id: w.id,
      host: w.host,
      place: w.place ?? 'local',
      pools: w.pools,
      offer: w.offer ? { cpu: w.offer.cpu, memoryBytes: w.offer.memory_bytes, gpu: w.offer.gpu, maxTimeMs: w.offer.max_time_ms, slots: w.offer.slots, ...(w.offer.nodes !== undefined ? { nodes: w.offer.nodes } : {}) } : null,
    }));
}

export interface ServerTarget {
  readonly client: KairosClient;
  /** Given with --server (or KAIROS_SERVER): an unreachable server then fails the check instead of skipping it. */
  readonly explicit: boolean;
}

function byName(manifest: CompiledManifest, pick: (job: CompiledManifest['jobs'][string]) => readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const job of Object.values(manifest.jobs)) for (const name of pick(job)) out.set(name, [...(out.get(name) ?? []), job.name]);
  return out;
}

const jobsText = (jobs: readonly string[]) => `job${jobs.length === 1 ? '' : 's'} ${jobs.join(', ')}`;

export async function serverChecks(manifest: CompiledManifest, target: ServerTarget | null): Promise<Check[]> {
  const secrets = byName(manifest, (j) => j.secrets);
  const pools = byName(manifest, (j) => [j.pool]);
  const skipAll = (why: string): Check[] => [
    { group: 'configuration', name: 'secrets', status: 'skip', message: why },
    { group: 'configuration', name: 'pools', status: 'skip', message: why },
  ];
  if (!target) return skipAll('no server to check against');
  const { client } = target;
  try {
    await client.health();
  } catch (err) {
    if (err instanceof ConnectionError || err instanceof ApiError) {
      const why = `server ${client.base} not reachable (${err instanceof ApiError ? err.message : 'connection refused or timed out'})`;
      if (target.explicit) return [{ group: 'configuration', name: 'server', status: 'fail', message: why }];
      return skipAll(`skipped: no server at ${client.base} (give --server URL to check against one)`);
    }
    throw err;
  }
  const checks: Check[] = [];

  // Secrets: names only ever travel, never values.
  if (secrets.size === 0) {
    checks.push({ group: 'configuration', name: 'secrets', status: 'pass', message: 'no job names a secret' });
  } else {
    let known: Set<string> | null = null;
    try {
      known = new Set((await client.secretNames(manifest.project)).map((s) => s.name));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.code === 'not_found' && /no route/.test(err.message)) {
        checks.push({ group: 'configuration', name: 'secrets', status: 'skip', message: `secrets could not be checked: ${client.base} has no secrets API` });
      } else if (err instanceof ApiError && err.status === 404 && err.code.startsWith('http_')) {
        checks.push({ group: 'configuration', name: 'secrets', status: 'skip', message: `secrets could not be checked: ${client.base} has no secrets API` });
      } else {
        checks.push({ group: 'configuration', name: 'secrets', status: 'fail', message: `secrets could not be listed: ${coerceError(err).message}` });
      }
    }
    if (known) {
      for (const [name, jobs] of [...secrets.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        checks.push(
          known.has(name)
            ? { group: 'configuration', name: `secret ${name}`, status: 'pass', message: `set for project ${manifest.project}` }
            : { group: 'configuration', name: `secret ${name}`, status: 'fail', message: `secret ${name} is missing on ${client.base} (needed by ${jobsText(jobs)})` },
        );
      }
    }
  }

  // Pools: a pool with no live worker is a warning (a worker may join later), never a failure.
  try {
    const workers = await client.workers();
    for (const [pool, jobs] of [...pools.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const live = workers.filter((w) => w.alive && w.pools.includes(pool));
      checks.push(
        live.length > 0
          ? { group: 'configuration', name: `pool ${pool}`, status: 'pass', message: `${live.length} live worker${live.length === 1 ? '' : 's'} (${live.reduce((s, w) => s + w.capacity, 0)} slots)` }
          : { group: 'configuration', name: `pool ${pool}`, status: 'warn', message: `no live worker serves pool ${pool} (needed by ${jobsText(jobs)}); its runs will wait for one` },
      );
    }
    // Placement: a job no live worker of its pool offers enough for would wait (docs/places.md).
    for (const w of placementWarnings(Object.values(manifest.jobs), liveWorkersOf(workers), false)) {
      checks.push({ group: 'configuration', name: `placement ${w.job}`, status: 'warn', message: `job ${w.job}: ${w.message}; its runs would wait` });
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) checks.push({ group: 'configuration', name: 'pools', status: 'skip', message: `pools could not be checked: ${client.base} does not list workers` });
    else throw err;
  }
  return checks;
}
