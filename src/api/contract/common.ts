/**
 * The building blocks of the API contract: how a route is described (method, path, inputs, answers), and the
 * small schemas most routes share. The contract is plain data over zod schemas: the server parses every
 * input through it (src/api/input.ts), the OpenAPI document is generated from it (src/api/openapi.ts), and
 * the client (src/api/client.ts) and the dashboard (ui/) take their types from it.
 */
import { z } from 'zod';
import { parseInstant } from '../../model/instant.js';

export type Method = 'get' | 'post' | 'put' | 'delete';

export interface ResponseSpec {
  readonly description: string;
  /** The JSON body's schema; absent with `contentType` for a body that is not JSON. */
  readonly schema?: z.ZodType;
  readonly contentType?: string;
}

/** One route: its inputs (each a strict object: unknown fields are refused) and its answers by status. */
export interface RouteSpec {
  readonly method: Method;
  /** Hono's spelling: `/api/v1/runs/:id`. */
  readonly path: string;
  readonly summary: string;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  /** A JSON body's schema. Routes without one take no body (an empty body or `{}`). */
  readonly body?: z.ZodType;
  /** A body that is not JSON (the bundle stream of a deploy), described but read by the route itself. */
  readonly rawBody?: { readonly contentType: string; readonly description: string };
  /** The largest JSON body taken (default 1 MiB): worker reports of log lines and outputs are larger. */
  readonly maxBodyBytes?: number;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** Answers with an error body beyond the ones every route may give (400, 401, 403, and 404 with path parameters). */
  readonly errors?: Readonly<Record<number, string>>;
}

export function route<const R extends RouteSpec>(r: R): R {
  return r;
}

type InferOr<T, D> = T extends z.ZodType ? z.infer<T> : D;
/** What a route's handler gets after parsing: typed by its schemas. */
export interface Input<R extends RouteSpec> {
  readonly params: InferOr<R['params'], Record<string, never>>;
  readonly query: InferOr<R['query'], Record<string, never>>;
  readonly body: InferOr<R['body'], Record<string, never>>;
}

/** The JSON body of a 2xx answer of a route, by status. */
export type Answer<R extends RouteSpec, S extends keyof R['responses'] = keyof R['responses']> = R['responses'][S] extends { schema: infer T extends z.ZodType } ? z.infer<T> : never;

/** Limits of strings and lists in requests: far above real use, low enough that no request holds much memory. */
export const LIMITS = {
  /** A name: project, job, token, secret, run id, schedule. */
  name: 200,
  /** A short free text: a source label, a reason. */
  text: 4096,
  /** A comma-separated list in a query parameter. */
  list: 2000,
} as const;

export const name = z.string().min(1).max(LIMITS.name);
/** A path parameter: any text the router accepts, bounded; whether it names something is the handler's 404. */
export const pathName = z.string().min(1).max(LIMITS.name);

/** An integer query parameter (text in the URL) within [min, max]. */
export function queryInt(min: number, max: number) {
  return z
    .string()
    .regex(/^-?\d{1,16}$/, `must be an integer from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be an integer from ${min} to ${max}`).max(max, `must be an integer from ${min} to ${max}`));
}

/** An ISO-8601 instant with an offset (or a date, meaning 00:00 UTC), as epoch ms. */
export function instant(what = 'an ISO-8601 instant with an offset, such as 2026-01-01T00:00:00Z (or a date, meaning 00:00 UTC)') {
  return z
    .string()
    .max(100)
    .refine((s) => parseInstant(s) !== null, `must be ${what}`)
    .transform((s) => parseInstant(s) ?? 0);
}

export const isoTime = z.iso.datetime();
export const isoTimeOrNull = isoTime.nullable();

export const errorSchema = z
  .strictObject({
    error: z.strictObject({
      code: z.string().describe('stable: invalid_input, invalid_bundle, invalid_params, invalid_manifest, not_found, conflict, stale_lease, unauthorized, forbidden, internal'),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof errorSchema>;

export const ok = z.strictObject({ ok: z.literal(true) });
/** A body-less action: no body, an empty one, or `{}`. */
export const noBody = z.strictObject({});
