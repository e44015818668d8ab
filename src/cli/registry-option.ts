/** `--registry [http://]HOST:PORT[/PREFIX]` of `kairos server` and `kairos up`: the team's container registry (docs/containers.md). */
import { parseRegistry } from '../worker/envs/images.js';
import { UsageError } from './output.js';

export function registryOption(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  if (!parseRegistry(value)) throw new UsageError(`--registry must be HOST:PORT[/PREFIX] (or http://HOST:PORT[/PREFIX] for a registry without TLS), got ${JSON.stringify(value)}`);
  return value.trim().replace(/\/+$/, '');
}
