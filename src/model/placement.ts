/**
 * Placement, the pure part (the control plane's claims and waiting reasons, and `kairos check`, use it): what
 * a run needs, whether a place's offer covers it, and why a run cannot start on any live worker of its pool.
 */
import { formatDuration } from './duration.js';
import type { Resources } from './job.js';

/** What a place can give one attempt (src/worker/places/place.ts PlaceOffer, as a worker registers it). */
export interface Offer {
  readonly cpu: number;
  readonly memoryBytes: number;
  readonly gpu: number;
  readonly maxTimeMs: number | null;
  readonly slots: number;
  readonly nodes?: number;
}

/** What one run needs of a place. */
export interface Need extends Resources {
  /** Its timeout: the place must let an attempt run this long. */
  readonly timeMs: number | null;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Memory for people: `64Gi`, `512Mi`, `23.4Gi`. */
export function showMemory(n: number): string {
  if (n % GiB === 0) return `${n / GiB}Gi`;
  if (n >= GiB) return `${Math.floor((n / GiB) * 10) / 10}Gi`;
  if (n % MiB === 0) return `${n / MiB}Mi`;
  return `${Math.floor((n / MiB) * 10) / 10}Mi`;
}

type Dim = 'cpu' | 'memory' | 'gpu' | 'time';

/** The first thing `need` asks that one attempt can never get from `offer`, or null when it fits. */
export function shortfall(offer: Offer, need: Need): { dim: Dim; asked: string; offered: (o: Offer) => string; size: (o: Offer) => number } | null {
  if (need.memoryBytes !== null && need.memoryBytes > offer.memoryBytes) return { dim: 'memory', asked: showMemory(need.memoryBytes), offered: (o) => showMemory(o.memoryBytes), size: (o) => o.memoryBytes };
  if (need.cpu !== null && need.cpu > offer.cpu) return { dim: 'cpu', asked: String(need.cpu), offered: (o) => String(o.cpu), size: (o) => o.cpu };
  if (need.gpu !== null && need.gpu > offer.gpu) return { dim: 'gpu', asked: String(need.gpu), offered: (o) => String(o.gpu), size: (o) => o.gpu };
  if (need.timeMs !== null && offer.maxTimeMs !== null && need.timeMs > offer.maxTimeMs)
    return { dim: 'time', asked: formatDuration(need.timeMs), offered: (o) => (o.maxTimeMs === null ? 'unlimited' : formatDuration(o.maxTimeMs)), size: (o) => o.maxTimeMs ?? Infinity };
  return null;
}

/** What running attempts use of a worker's place. */
export interface Usage {
  cpu: number;
  memoryBytes: number;
  gpu: number;
}

/** Whether one more run needing `need` fits beside `used` in everything the place has (offer × nodes). */
export function fitsBeside(offer: Offer, used: Usage, need: Need): boolean {
  const n = offer.nodes ?? 1;
  if (need.cpu !== null && used.cpu + need.cpu > offer.cpu * n + 1e-9) return false;
  if (need.memoryBytes !== null && used.memoryBytes + need.memoryBytes > offer.memoryBytes * n) return false;
  if (need.gpu !== null && need.gpu > 0 && used.gpu + need.gpu > offer.gpu * n) return false;
  return true;
}

export function addUsage(used: Usage, need: Need): void {
  used.cpu += need.cpu ?? 0;
  used.memoryBytes += need.memoryBytes ?? 0;
  used.gpu += need.gpu ?? 0;
}

export interface LiveWorker {
  readonly id: string;
  readonly host: string;
  readonly place: string;
  readonly pools: readonly string[];
  readonly offer: Offer | null;
}

/**
 * Why a run of `pool` needing `need` cannot start on any of `workers`, or null when one of them could take it
 * (it then waits only for room): "no live worker in pool gpu", "no worker in pool bigmem offers memory 64Gi
 * (largest: 23Gi on local@vm)".
 */
export function waitingReason(pool: string, need: Need, workers: readonly LiveWorker[]): string | null {
  const inPool = workers.filter((w) => w.pools.includes(pool));
  if (inPool.length === 0) return `no live worker in pool ${pool}`;
  let first: ReturnType<typeof shortfall> = null;
  for (const w of inPool) {
    if (!w.offer) return null;
    const s = shortfall(w.offer, need);
    if (!s) return null;
    first ??= s;
  }
  if (!first) return null;
  const s = first;
  const best = inPool.reduce((a, b) => (s.size(b.offer as Offer) > s.size(a.offer as Offer) ? b : a));
  return `no worker in pool ${pool} offers ${s.dim} ${s.asked} (largest: ${s.offered(best.offer as Offer)} on ${best.place}@${best.host})`;
}


/** What a job needs: its resources and timeout. */
export function jobNeed(job: { readonly resources: Resources; readonly timeoutMs: number | null }): Need {
  return { ...job.resources, timeMs: job.timeoutMs };
}

/**
 * Jobs no registered live worker of their pool can run, and why (`kairos check`, `kairos deploy --plan`).
 * `noLiveWorker`: also report pools with no live worker at all.
 */
export function placementWarnings(
  jobs: readonly { readonly name: string; readonly pool: string; readonly resources: Resources; readonly timeoutMs: number | null }[],
  workers: readonly LiveWorker[],
  noLiveWorker = true,
): { job: string; message: string }[] {
  const out: { job: string; message: string }[] = [];
  for (const j of jobs) {
    const why = waitingReason(j.pool, jobNeed(j), workers);
    if (why && (noLiveWorker || !why.startsWith('no live worker'))) out.push({ job: j.name, message: why });
  }
  return out;
}
