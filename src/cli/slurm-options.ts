/**
 * `kairos worker --place slurm` options (docs/places.md, Slurm): where the jobs go and the directory the login
 * node shares with the compute nodes. Parsed here, handed to the slurm place (src/worker/places/slurm.ts).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringOption } from './args.js';
import type { OptionSpec, Parsed } from './args.js';
import { UsageError } from './output.js';
import type { SlurmPlaceOptions } from '../worker/places/slurm.js';
import type { PlaceKindOptions } from './place-options.js';

export const SLURM_OPTIONS = {
  partition: { type: 'string' },
  account: { type: 'string' },
  qos: { type: 'string' },
  'slurm-option': { type: 'string', multiple: true },
  'shared-dir': { type: 'string' },
} as const satisfies OptionSpec;

export const SLURM_USAGE = '[--partition P] [--account A] [--qos Q] [--slurm-option ARG]... [--shared-dir DIR]';

const SLURM_NAME = /^[A-Za-z0-9_.+-]{1,128}$/;

/** The slurm place's options from `kairos worker`'s flags; UsageError for bad ones. Null when none is given and the place is not slurm. */
export function slurmOptions(p: Parsed, place: string): SlurmPlaceOptions | null {
  const given = Object.keys(SLURM_OPTIONS).filter((k) => p.values[k] !== undefined);
  if (place !== 'slurm') {
    if (given.length > 0) throw new UsageError(`--${given[0]} is an option of --place slurm`);
    return null;
  }
  const shared = stringOption(p.values['shared-dir']);
  if (!shared) throw new UsageError('--place slurm needs --shared-dir DIR: a directory the compute nodes see at the same path');
  const sharedDir = resolve(shared);
  if (!statSync(sharedDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--shared-dir ${sharedDir}: no such directory`);
  const named = (k: 'partition' | 'account' | 'qos'): string | null => {
    const v = stringOption(p.values[k]);
    if (v === undefined) return null;
    if (!SLURM_NAME.test(v)) throw new UsageError(`--${k} must be a Slurm ${k} name, got "${v}"`);
    return v;
  };
  const extra = (p.values['slurm-option'] as string[] | undefined) ?? [];
  for (const a of extra) {
    if (!/^--?[A-Za-z]/.test(a)) throw new UsageError(`--slurm-option takes one sbatch option with its value, e.g. --slurm-option=--constraint=fast; got "${a}"`);
    if (/^--?(job-name|J|output|o|error|e|export|chdir|D|wrap|requeue|parsable)\b/.test(a)) throw new UsageError(`--slurm-option ${a}: Kairos sets that sbatch option itself`);
  }
  return { sharedDir, partition: named('partition'), account: named('account'), qos: named('qos'), slurmOptions: extra };
}

/** For `kairos worker` (./place-options.ts): these options, parsed when `--place slurm`. */
export const SLURM_KIND_OPTIONS: PlaceKindOptions = {
  options: SLURM_OPTIONS,
  usage: SLURM_USAGE,
  parse: (p) => ({ ...(slurmOptions(p, 'slurm') as SlurmPlaceOptions) }),
};
