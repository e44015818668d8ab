/**
 * The one wrapper that owns the CLI's output and exit codes: 0 ok, 1 failed, 2 bad usage or invalid input.
 * Commands throw; this decides what the user sees.
 */
import { ApiError, ConnectionError } from '../api/client.js';
import { KairosError } from '../model/errors.js';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Bad usage or invalid input: exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command ran and the outcome was a failure: exit with `code` (default 1). */
export class Failure extends Error {
  override name = 'Failure';
  constructor(
    message: string,
    readonly code: number = EXIT.failed,
  ) {
    super(message);
  }
}

/** Exit quietly with a code (the message, if any, was already printed). */
export class ExitWith extends Error {
  override name = 'ExitWith';
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const INPUT_CODES = new Set(['invalid_input', 'invalid_params', 'invalid_manifest', 'not_found', 'invalid_bundle']);

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly tty: boolean;
  readonly errTty: boolean;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  tty: process.stdout.isTTY === true,
  errTty: process.stderr.isTTY === true,
};

/** Maps an error to its exit code, printing what the user needs. */
export function reportError(err: unknown, io: Io): number {
  if (err instanceof ExitWith) return err.code;
  if (err instanceof UsageError) {
    io.err(`kairos: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof Failure) {
    if (err.message) io.err(`kairos: ${err.message}\n`);
    return err.code;
  }
  if (err instanceof ApiError) {
    const errors = (err.details as { errors?: unknown } | undefined)?.errors;
    if (Array.isArray(errors)) for (const e of errors) io.err(`kairos: ${String(e)}\n`);
    else io.err(`kairos: ${err.message}\n`);
    return INPUT_CODES.has(err.code) ? EXIT.usage : EXIT.failed;
  }
  if (err instanceof KairosError) {
    io.err(`kairos: ${err.message}\n`);
    return INPUT_CODES.has(err.code) ? EXIT.usage : EXIT.failed;
  }
  if (err instanceof ConnectionError) {
    io.err(`kairos: ${err.message}\n`);
    return EXIT.failed;
  }
  io.err(`kairos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.failed;
}

/** Makes terminal control sequences in job output inert on a terminal (ESC shows as ^[), like `cat -v`. */
export function inert(line: string): string {
  // eslint-disable-next-line no-control-regex
  return line.replace(/[\u0000-\u0008\u000b-\u001f\u007f\u009b]/g, (ch) => {
    const code = ch.charCodeAt(0);
    return code === 0x7f ? '^?' : code === 0x9b ? '^[[' : '^' + String.fromCharCode(code + 64);
  });
}

// eslint-disable-next-line no-control-regex
const visible = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '').length;

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const fmt = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visible(c)))))
      .join('  ')
      .trimEnd();
  return [fmt(headers), ...rows.map(fmt)].join('\n') + '\n';
}

const COLORS: Readonly<Record<string, string>> = { succeeded: '32', failed: '31', timed_out: '31', cancelled: '33', running: '36', queued: '90', skipped: '90' };

export function colorState(state: string, tty: boolean): string {
  const c = COLORS[state];
  return tty && c ? `\u001b[${c}m${state}\u001b[0m` : state;
}

export function shortTime(iso: string | null): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

export function durationBetween(a: string | null, b: string | null): string {
  if (!a) return '-';
  const ms = (b ? Date.parse(b) : Date.now()) - Date.parse(a);
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
