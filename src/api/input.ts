/**
 * Validation at the edge: a route's path parameters, query and JSON body parsed through its contract
 * (src/api/contract/). Anything that does not fit is a 400 `invalid_input` naming the field, with the
 * problems in `details`; never a 500. Messages never quote the value sent (it may be a secret).
 */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { z } from 'zod';
import { KairosError } from '../model/errors.js';
import { noBody, type Input, type RouteSpec } from './contract/common.js';

export const MAX_BODY_BYTES = 1024 * 1024;
const DRAIN_FACTOR = 16;

/** Reads the body straight from Node's request: cheaper than building a Web Request stream for it. */
export async function bodyText(c: Context, maxBytes = MAX_BODY_BYTES): Promise<string> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming) return c.req.text();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Past the limit the rest is read and dropped (up to a bound), so the client hears the 400 rather than
    // a reset connection; a body far past it is cut off.
    if (size > Math.max(maxBytes, MAX_BODY_BYTES * DRAIN_FACTOR)) break;
    if (size <= maxBytes) chunks.push(chunk);
  }
  if (size > maxBytes) throw new KairosError('invalid_input', `the request body is larger than ${maxBytes} bytes`);
  return Buffer.concat(chunks).toString('utf8');
}

/** The body as a JSON object; an empty body is `{}`. */
export async function jsonBody(c: Context, maxBytes = MAX_BODY_BYTES): Promise<Record<string, unknown>> {
  const text = await bodyText(c, maxBytes);
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new KairosError('invalid_input', 'the request body must be a JSON object (it is not valid JSON)');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new KairosError('invalid_input', 'the request body must be a JSON object');
  return v as Record<string, unknown>;
}

type Where = 'field' | 'query parameter' | 'path parameter';

/** One problem as a person reads it: `field "lease.attempt": …`, or `field "from" must be …`. */
function describe(where: Where, issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  let msg = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => `"${k.slice(0, 60)}"`).join(', ');
    return path ? `${where} "${path}" has unknown fields ${keys}` : `unknown ${where === 'field' ? 'fields' : `${where}s`} ${keys}`;
  }
  if (issue.code === 'invalid_type' && /received undefined$/.test(msg)) msg = 'is required';
  if (!path) return where === 'field' ? `the request body ${msg.startsWith('must') ? msg : `is invalid: ${msg}`}` : msg;
  return /^(must|is required)/.test(msg) ? `${where} "${path}" ${msg}` : `${where} "${path}": ${msg}`;
}

/** Parses one part of the request; the error lists every problem, the message the first few. */
export function parsePart<T extends z.ZodType>(schema: T, value: unknown, where: Where): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues;
  const lines = issues.map((i) => describe(where, i));
  const shown = lines.slice(0, 3).join('; ') + (lines.length > 3 ? `; and ${lines.length - 3} more` : '');
  throw new KairosError('invalid_input', shown, { issues: issues.slice(0, 50).map((i, n) => ({ in: where, path: i.path.map(String), code: i.code, message: lines[n] })) });
}

/** The query as an object of strings; an empty value means "not given", as it always has. */
function queryObject(c: Context): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.req.query())) if (v !== '') out[k] = v;
  return out;
}

/**
 * A route's inputs, parsed through its contract. GET routes read no body; other routes without a body in the
 * contract accept an empty body or `{}` only. A route without a query in the contract takes no query parameters. A route with a raw body (the deploy upload) reads it itself.
 */
export async function input<R extends RouteSpec>(c: Context, r: R): Promise<Input<R>> {
  const params = r.params ? parsePart(r.params, c.req.param(), 'path parameter') : {};
  const query = parsePart(r.query ?? noBody, queryObject(c), 'query parameter');
  let body: unknown = {};
  if (r.method !== 'get' && !r.rawBody) body = parsePart(r.body ?? noBody, await jsonBody(c, r.maxBodyBytes), 'field');
  return { params, query, body } as Input<R>;
}
