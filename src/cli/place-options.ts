/**
 * Where a worker runs its attempts and what it offers (docs/places.md): `--place local|slurm|kubernetes`, `--cpu N`,
 * `--memory SIZE`, `--gpu N`, shared by `kairos worker` and the run overrides of `kairos run`. Each kind of
 * place may add its own options (PLACE_KIND_OPTIONS; slurm's live in their own file).
 */
import { parseSize } from '../manifest/fields.js';
import type { PlaceChoice } from '../worker/places/index.js';
import { intOption, stringOption, type OptionSpec, type Parsed } from './args.js';
import { UsageError } from './output.js';
import { SLURM_KIND_OPTIONS } from './slurm-options.js';
import { KUBERNETES_KIND_OPTIONS } from './kubernetes-options.js';

/** `--cpu`, `--memory`, `--gpu`: what a worker offers, or what one run needs (`kairos run`). */
export const RESOURCE_OPTIONS = {
  cpu: { type: 'string' },
  memory: { type: 'string' },
  gpu: { type: 'string' },
} as const satisfies OptionSpec;

export const RESOURCE_USAGE = '[--cpu N] [--memory SIZE] [--gpu N]';

/** The options one kind of place adds to `kairos worker`, and how they become its choice's `options`. */
export interface PlaceKindOptions {
  readonly options: OptionSpec;
  readonly usage: string;
  parse(p: Parsed): Record<string, unknown>;
}

/**
 * By kind. slurm: from ./slurm-options.ts (--partition, --account, --qos, --slurm-option, --shared-dir);
 * kubernetes: from ./kubernetes-options.ts (--namespace, --kubeconfig, --in-cluster, --service-account, --image,
 * --volume-claim, --shared-dir).
 */
export const PLACE_KIND_OPTIONS: Record<string, PlaceKindOptions> = { slurm: SLURM_KIND_OPTIONS, kubernetes: KUBERNETES_KIND_OPTIONS };

export const PLACE_OPTIONS = {
  place: { type: 'string' },
  ...RESOURCE_OPTIONS,
} as const satisfies OptionSpec;

export const PLACE_USAGE = `[--place local|slurm|kubernetes] ${RESOURCE_USAGE}`;

/** `--cpu/--memory/--gpu` as numbers (absent when not given); bad values are usage errors. */
export function resourceOptions(p: Parsed): { cpu?: number; memoryBytes?: number; gpu?: number } {
  const out: { cpu?: number; memoryBytes?: number; gpu?: number } = {};
  const cpu = stringOption(p.values.cpu);
  if (cpu !== undefined) {
    const n = Number(cpu);
    if (!/^\d+(\.\d+)?$/.test(cpu) || !(n > 0) || n > 100_000) throw new UsageError(`--cpu must be a number of cores > 0 (e.g. 2 or 0.5), got "${cpu}"`);
    out.cpu = n;
  }
  const memory = stringOption(p.values.memory);
  if (memory !== undefined) {
    const n = parseSize(memory);
    if (n === null || n <= 0) throw new UsageError(`--memory must be a size such as 512Mi, 2Gi, 1G or a number of bytes, got "${memory}"`);
    out.memoryBytes = n;
  }
  const gpu = intOption(p.values.gpu, 'gpu', 0, 10_000);
  if (gpu !== undefined) out.gpu = gpu;
  return out;
}

/** The worker's place from its options. */
export function placeChoice(p: Parsed, kinds: readonly string[]): PlaceChoice {
  const kind = stringOption(p.values.place) ?? 'local';
  if (!kinds.includes(kind)) throw new UsageError(`--place must be one of ${kinds.join(', ')}, got "${kind}"`);
  const own = PLACE_KIND_OPTIONS[kind];
  // Another kind's option given to this one is a mistake, not something to ignore.
  for (const [other, o] of Object.entries(PLACE_KIND_OPTIONS)) {
    if (other === kind) continue;
    for (const k of Object.keys(o.options)) if (p.values[k] !== undefined && !(own && k in own.options)) throw new UsageError(`--${k} is an option of --place ${other}`);
  }
  return { kind, ...resourceOptions(p), ...(own ? { options: own.parse(p) } : {}) };
}
