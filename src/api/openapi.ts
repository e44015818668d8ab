/**
 * The OpenAPI 3.1 document served at /api/v1/openapi.json, generated from the contract (src/api/contract/):
 * the same schemas the server validates every request with. Named schemas (`.meta({id})`) become
 * components; every operation says the scope it needs (src/api/scopes.ts) and the errors it may answer.
 */
import { z } from 'zod';
import { VERSION } from '../version.js';
import { requiredScope } from './scopes.js';
import { ALL_ROUTES, errorSchema, type RouteSpec } from './contract/index.js';

type Json = Record<string, unknown>;

/** JSON Schema of one zod schema; its named parts go into `components`, referenced from here. */
function convert(schema: z.ZodType, io: 'input' | 'output', components: Record<string, unknown>): Json {
  const js = z.toJSONSchema(schema, {
    io,
    target: 'draft-2020-12',
    unrepresentable: 'any',
    override: (ctx) => {
      const s = ctx.jsonSchema as Json;
      // The generated date-time pattern is a page long; `format` says it.
      if (s.format === 'date-time') delete s.pattern;
      if (s.minimum === Number.MIN_SAFE_INTEGER) delete s.minimum;
      if (s.maximum === Number.MAX_SAFE_INTEGER) delete s.maximum;
    },
  }) as Json;
  delete js.$schema;
  const defs = (js.$defs ?? {}) as Record<string, unknown>;
  delete js.$defs;
  const rewrite = (v: unknown): Json => JSON.parse(JSON.stringify(v).replaceAll('"#/$defs/', '"#/components/schemas/')) as Json;
  for (const [id, def] of Object.entries(defs)) components[id] ??= rewrite(def);
  // A named schema at the top is a reference too.
  const id = (z.globalRegistry.get(schema) as { id?: string } | undefined)?.id;
  if (id) {
    components[id] ??= rewrite(js);
    return { $ref: `#/components/schemas/${id}` };
  }
  return rewrite(js);
}

/** `/api/v1/runs/:id` → `/api/v1/runs/{id}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z_]+)(?:\{[^}]*\})?/g, '{$1}');
}

function parameters(r: RouteSpec, components: Record<string, unknown>): Json[] {
  const out: Json[] = [];
  for (const [where, obj] of [
    ['path', r.params],
    ['query', r.query],
  ] as const) {
    if (!obj) continue;
    const js = convert(obj, 'input', components) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(js.properties ?? {})) {
      const { description, ...rest } = schema;
      out.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: rest, ...(description ? { description } : {}) });
    }
  }
  return out;
}

function operation(r: RouteSpec, components: Record<string, unknown>): Json {
  const error = { $ref: '#/components/schemas/Error' };
  const errorAnswer = (description: string) => ({ description, content: { 'application/json': { schema: error } } });
  const responses: Record<string, unknown> = {};
  for (const [status, spec] of Object.entries(r.responses)) {
    const content = spec.schema ? { [spec.contentType ?? 'application/json']: { schema: convert(spec.schema, 'output', components) } } : spec.contentType ? { [spec.contentType]: {} } : undefined;
    responses[status] = { description: spec.description, ...(content ? { content } : {}) };
  }
  const hasInput = r.params || r.query || r.body || r.method !== 'get';
  if (hasInput) responses['400'] = errorAnswer('invalid_input: a path parameter, query parameter or body field is missing, of the wrong type, too large, or unknown; details.issues lists each');
  if (r.params) responses['404'] = errorAnswer('not_found');
  for (const [status, description] of Object.entries(r.errors ?? {})) responses[status] = errorAnswer(description);
  const need = requiredScope(r.method.toUpperCase(), r.path);
  responses['401'] ??= errorAnswer('unauthorized: missing, unknown or revoked token');
  if (need !== 'any') responses['403'] ??= errorAnswer(`forbidden: needs scope ${need}`);

  const op: Json = { summary: r.summary, 'x-kairos-scope': need, security: [{ bearer: [] }], responses };
  const params = parameters(r, components);
  if (params.length > 0) op.parameters = params;
  if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: convert(r.body, 'input', components) } } };
  if (r.rawBody) op.requestBody = { required: true, description: r.rawBody.description, content: { [r.rawBody.contentType]: {} } };
  return op;
}

let cached: Json | null = null;

export function openApiDocument(): Json {
  if (cached) return cached;
  const components: Record<string, unknown> = {};
  convert(errorSchema, 'output', components);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ALL_ROUTES) (paths[openApiPath(r.path)] ??= {})[r.method] = operation(r, components);
  cached = {
    openapi: '3.1.0',
    info: { title: 'Kairos API', version: VERSION, description: 'Runs, logs, schedules, deployments and the worker protocol. Errors are JSON with a stable code.' },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } }, schemas: components },
    security: [{ bearer: [] }],
    paths,
  };
  return cached;
}
