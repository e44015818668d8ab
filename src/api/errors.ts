/** The one place where domain errors become HTTP statuses. Bodies: `{"error": {"code", "message", "details"?}}`. */
import type { ErrorCode } from '../model/errors.js';
import { KairosError } from '../model/errors.js';
import { asUnavailable } from '../store/availability.js';

const STATUS: Readonly<Record<ErrorCode, number>> = {
  invalid_input: 400,
  invalid_manifest: 422,
  invalid_params: 422,
  invalid_bundle: 400,
  not_found: 404,
  conflict: 409,
  stale_lease: 409,
  unauthorized: 401,
  forbidden: 403,
  unavailable: 503,
  gone: 410,
  bad_gateway: 502,
  internal: 500,
};

export function errorStatus(code: ErrorCode): number {
  return STATUS[code];
}

export function errorBody(err: unknown): { status: number; body: { error: { code: string; message: string; details?: unknown } } } {
  // A database that is locked, down or out of space is a 503 the client may retry, never a 500.
  err = asUnavailable(err);
  if (err instanceof KairosError) {
    const body: { code: string; message: string; details?: unknown } = { code: err.code, message: err.message };
    if (err.details !== undefined) body.details = err.details;
    return { status: errorStatus(err.code), body: { error: body } };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal error; see the server log' } } };
}
