/** `--retention-runs N` and `--retention-days D` of `kairos server` and `kairos up` (docs/snapshots.md). */
import type { RetentionSettings } from '../control/retention.js';
import { intOption } from './args.js';
import type { OptionSpec, Parsed } from './args.js';

export const RETENTION_OPTIONS = { 'retention-runs': { type: 'string' }, 'retention-days': { type: 'string' } } as const satisfies OptionSpec;
export const RETENTION_USAGE = '[--retention-runs N] [--retention-days D]';

/** The server-wide defaults for jobs without their own `retention` (none given: artifacts are kept). */
export function retentionOptions(p: Parsed): Partial<RetentionSettings> {
  const runs = intOption(p.values['retention-runs'], 'retention-runs', 1, 1_000_000_000);
  const days = intOption(p.values['retention-days'], 'retention-days', 1, 1_000_000);
  return { ...(runs === undefined ? {} : { runs }), ...(days === undefined ? {} : { days }) };
}
