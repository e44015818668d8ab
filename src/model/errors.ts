/**
 * Errors that change behaviour carry a stable `code`. They map to HTTP statuses in exactly one place
 * (src/api/errors.ts) and to CLI exit codes in one place (src/cli/output.ts).
 */
export const ERROR_CODES = {
  invalid_input: 'invalid_input',
  invalid_manifest: 'invalid_manifest',
  invalid_params: 'invalid_params',
  invalid_bundle: 'invalid_bundle',
  not_found: 'not_found',
  conflict: 'conflict',
  stale_lease: 'stale_lease',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  /** The database cannot take a write right now (locked, down, disk full): try again (HTTP 503, Retry-After). */
  unavailable: 'unavailable',
  /** A service's run ended: its path answers 410 (docs/services.md). */
  gone: 'gone',
  /** A service did not answer its worker (HTTP 502). */
  bad_gateway: 'bad_gateway',
  internal: 'internal',
} as const;
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export class KairosError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'KairosError';
  }
}

/** Turns anything thrown into an Error. */
export function coerceError(err: unknown): Error {
  if (err instanceof Error) return err;
  return new Error(typeof err === 'string' ? err : JSON.stringify(err));
}
