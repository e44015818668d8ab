/**
 * `inputs` and `retention` of a job (docs/snapshots.md). Part of the one manifest definition (schema.ts
 * imports it): what a job reads before it starts, and how long its artifacts are kept.
 */
import * as z from 'zod';
import { NAME_RULES, documented, expecting, namedMap, report } from './fields.js';
import { parseInputRef } from '../model/inputs.js';

function inputRef(): z.ZodString {
  const checked = z.string().superRefine((ref, ctx) => {
    const parsed = parseInputRef('x', ref);
    if (!parsed.ok) report(ctx, 'invalid_input_ref', parsed.message);
  });
  return expecting(checked, 'SNAPSHOT@VERSION, SNAPSHOT@latest or run:JOB@latest/PATH', 'invalid_input_ref');
}

export function inputsValue() {
  return documented(namedMap('input', NAME_RULES.identifier, inputRef()), {
    description:
      'Data the job reads, fetched by the worker (cached by content hash) into `$KAIROS_INPUTS/<name>` before the command starts: `SNAPSHOT@VERSION` or `SNAPSHOT@latest` (a snapshot pushed with `kairos snapshot push`), or `run:JOB@latest/PATH` (an artifact, file or folder, of the latest succeeded run of JOB in this project). Each attempt records the exact versions it read; `kairos rerun` reads the same ones.',
  }).optional();
}

const atLeast1 = expecting(z.int().min(1), 'an integer ≥ 1');

export function retentionValue() {
  return documented(
    z.strictObject({
      runs: documented(atLeast1, { description: 'Keep the artifacts of the newest N finished runs of the job.', defaultText: 'the server\'s `--retention-runs`' }).optional(),
      days: documented(atLeast1, { description: 'Keep the artifacts of runs that finished in the last D days.', defaultText: 'the server\'s `--retention-days`' }).optional(),
    }),
    {
      description:
        'How long the artifacts of finished runs are kept: a run loses them once it is beyond the newest `runs` runs of the job, or finished more than `days` days ago. Files another kept run, a live run or a snapshot still uses are never removed.',
    },
  ).optional();
}
