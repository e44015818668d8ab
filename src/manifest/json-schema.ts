/** The manifest's JSON Schema (draft 2020-12), generated from the one schema for editors and `kairos schema`. */
import * as z from 'zod';
import { manifestSchema } from './schema.js';

/** Where `kairos schema > kairos.schema.json` is expected to put it, beside kairos.yaml. */
export const SCHEMA_FILE_NAME = 'kairos.schema.json';

const JSON_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/**
 * zod bounds every integer by ±(2^53 - 1) so that JS can hold it; in an editor that is noise, and a YAML
 * value that large is rejected by the compiler anyway.
 */
function withoutSafeIntegerBounds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutSafeIntegerBounds);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if ((k === 'maximum' && v === Number.MAX_SAFE_INTEGER) || (k === 'minimum' && v === Number.MIN_SAFE_INTEGER)) continue;
    out[k] = withoutSafeIntegerBounds(v);
  }
  return out;
}

export function manifestJsonSchema(): Record<string, unknown> {
  // io 'input': the document as written, so keys with a default are optional. Refinements (cron fields,
  // time zones, cross-references) cannot be said in JSON Schema; `kairos validate` checks them.
  const generated = z.toJSONSchema(manifestSchema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' });
  const { $schema: _dialect, ...rest } = withoutSafeIntegerBounds(generated) as Record<string, unknown>;
  return { $schema: JSON_SCHEMA_DIALECT, ...rest };
}
