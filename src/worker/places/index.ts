/**
 * The places a worker can run its attempts in, by kind (`kairos worker --place KIND`). Each kind is a factory
 * from the worker's choice (with the kind's own options) and its context to a Place (./place.ts).
 */
import { workerBaseEnv } from '../../model/run-env.js';
import { createLauncher } from './launchers.js';
import { LocalPlace } from './local-place.js';
import type { Place } from './place.js';
import type { Sandbox } from './sandbox.js';
import { SlurmPlace, type SlurmPlaceOptions } from './slurm.js';
import type { KubernetesPlaceOptions } from './kubernetes.js';

export * from './place.js';

/** What `kairos worker --place … --cpu --memory --gpu [place options]` asked for. */
export interface PlaceChoice {
  readonly kind: string;
  /** What to offer instead of what the place measures or reads. */
  readonly cpu?: number;
  readonly memoryBytes?: number;
  readonly gpu?: number;
  /** The kind's own options (for slurm: partition, account, qos, shared directory, extra sbatch arguments). */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** What the worker gives every place. */
export interface PlaceContext {
  readonly workerId: string;
  readonly dataDir: string;
  /** Attempts at once (the worker's `--capacity`). */
  readonly slots: number;
  /** The sandbox of local attempts; null = none. */
  readonly sandbox: Sandbox | null;
}

export type PlaceFactory = (choice: PlaceChoice, ctx: PlaceContext) => Place;

const offered = (c: PlaceChoice) => ({
  ...(c.cpu !== undefined ? { cpu: c.cpu } : {}),
  ...(c.memoryBytes !== undefined ? { memoryBytes: c.memoryBytes } : {}),
  ...(c.gpu !== undefined ? { gpu: c.gpu } : {}),
});

const FACTORIES = new Map<string, PlaceFactory>([
  ['local', (c, ctx) => new LocalPlace({ launcher: createLauncher(workerBaseEnv(process.env)), sandbox: ctx.sandbox, workerId: ctx.workerId, dataDir: ctx.dataDir, slots: ctx.slots, ...offered(c) })],
  // slurm: options from `kairos worker --place slurm` (src/cli/slurm-options.ts); the offer is read from the partition.
  ['slurm', (c) => new SlurmPlace(c.options as unknown as SlurmPlaceOptions)],
]);

/**
 * Kinds whose module is loaded only by `loadPlace`, before a worker of that kind is made: the Kubernetes client
 * alone kept about 25 MB of module source and code in every `kairos up` and `kairos server`, which never use it.
 */
const LAZY = new Map<string, () => Promise<PlaceFactory>>([
  // kubernetes: options from `kairos worker --place kubernetes` (src/cli/kubernetes-options.ts); the offer is the largest node's, or --cpu/--memory/--gpu.
  ['kubernetes', async () => {
    const { KubernetesPlace } = await import('./kubernetes.js');
    return (c, ctx) => new KubernetesPlace({ ...(c.options as unknown as Omit<KubernetesPlaceOptions, 'workerId' | 'dataDir' | 'slots'>), workerId: ctx.workerId, dataDir: ctx.dataDir, slots: ctx.slots, ...offered(c) });
  }],
]);

/** Loads the module of a kind of place that is loaded on demand (a no-op for the others); before `createPlace`. */
export async function loadPlace(kind: string): Promise<void> {
  const load = LAZY.get(kind);
  if (load && !FACTORIES.has(kind)) FACTORIES.set(kind, await load());
}

/** Adds a kind of place (a module per kind calls it when imported). */
export function registerPlace(kind: string, factory: PlaceFactory): void {
  FACTORIES.set(kind, factory);
}

export function placeKinds(): string[] {
  return [...new Set([...FACTORIES.keys(), ...LAZY.keys()])];
}

export function createPlace(choice: PlaceChoice, ctx: PlaceContext): Place {
  const make = FACTORIES.get(choice.kind);
  if (!make && LAZY.has(choice.kind)) throw new Error(`place ${JSON.stringify(choice.kind)} is not loaded yet (loadPlace first)`);
  if (!make) throw new Error(`unknown place ${JSON.stringify(choice.kind)} (one of: ${placeKinds().join(', ')})`);
  return make(choice, ctx);
}
