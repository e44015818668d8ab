import type { KairosClient } from '../api/client.js';
import type { OptionSpec, Parsed } from './args.js';
import type { Io } from './output.js';

export interface CommandEnv {
  readonly io: Io;
  readonly env: NodeJS.ProcessEnv;
  readonly client: (p: Parsed) => KairosClient;
}

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: OptionSpec;
  readonly positionals: { readonly min: number; readonly max: number };
  /** More help for `--help` that depends on the arguments or the server (e.g. a job's parameters). */
  moreHelp?(p: Parsed, e: CommandEnv): Promise<string>;
  /** Returns the exit code (0 when omitted). */
  run(p: Parsed, e: CommandEnv): Promise<number | void>;
}
