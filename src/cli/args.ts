/** Argument parsing for every command, over node:util's parseArgs, with the global options added. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './output.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export const GLOBAL_OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpec;

export interface Globals {
  readonly server: string;
  readonly token: string | null;
  readonly json: boolean;
}

export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  readonly positionals: string[];
  readonly globals: Globals;
  readonly help: boolean;
}

export function parse(argv: readonly string[], options: OptionSpec, env: NodeJS.ProcessEnv, positionals: { min: number; max: number; usage: string }): Parsed {
  let result;
  try {
    result = parseArgs({ args: [...argv], options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}\nusage: ${positionals.usage}`);
  }
  const v = result.values as Parsed['values'];
  const help = v.help === true;
  if (!help && (result.positionals.length < positionals.min || result.positionals.length > positionals.max)) {
    const what = result.positionals.length < positionals.min ? 'missing argument' : `unexpected argument "${result.positionals[positionals.max] ?? ''}"`;
    throw new UsageError(`${what}\nusage: ${positionals.usage}`);
  }
  const server = (typeof v.server === 'string' ? v.server : undefined) ?? env.KAIROS_SERVER ?? 'http://127.0.0.1:7070';
  if (!/^https?:\/\/[^/]+/.test(server)) throw new UsageError(`--server must be an http(s) URL, got "${server}"`);
  const token = (typeof v.token === 'string' ? v.token : undefined) ?? env.KAIROS_TOKEN ?? null;
  return { values: v, positionals: result.positionals, globals: { server, token, json: v.json === true }, help };
}

export function intOption(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !/^-?\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${String(value)}"`);
  return n;
}

export function stringOption(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
