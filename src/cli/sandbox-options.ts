/** The sandbox options `kairos up` and `kairos worker` share (docs/isolation.md), with KAIROS_SANDBOX. */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveSandbox, SANDBOX_MODES, SandboxUnavailable, type SandboxMode, type SandboxOptions } from '../worker/places/sandbox.js';
import { stringOption } from './args.js';
import type { OptionSpec, Parsed } from './args.js';
import { UsageError } from './output.js';

export const SANDBOX_OPTIONS = {
  sandbox: { type: 'string' },
  'sandbox-bind': { type: 'string', multiple: true },
  'sandbox-hide': { type: 'string', multiple: true },
} as const satisfies OptionSpec;

export const SANDBOX_USAGE = '[--sandbox auto|native|bwrap|none] [--sandbox-bind DIR]... [--sandbox-hide DIR]...';

/** What the options ask for; checked (bwrap present when required) before anything starts. */
export function sandboxOptions(p: Parsed, env: NodeJS.ProcessEnv): SandboxOptions {
  const mode = stringOption(p.values.sandbox) ?? env.KAIROS_SANDBOX ?? 'auto';
  if (!SANDBOX_MODES.includes(mode as SandboxMode)) throw new UsageError(`--sandbox must be one of ${SANDBOX_MODES.join(', ')}; got "${mode}"`);
  const dirs = (v: unknown) => ((v as string[] | undefined) ?? []).map((d) => resolve(d));
  for (const d of dirs(p.values['sandbox-bind'])) if (!statSync(d, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--sandbox-bind ${d}: no such directory`);
  const opts: SandboxOptions = { mode: mode as SandboxMode, bind: dirs(p.values['sandbox-bind']), hide: dirs(p.values['sandbox-hide']) };
  try {
    resolveSandbox(opts);
  } catch (err) {
    if (err instanceof SandboxUnavailable) throw new UsageError(err.message);
    throw err;
  }
  return opts;
}
