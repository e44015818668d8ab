/**
 * The API contract against a real `kairos up` over real HTTP: the served OpenAPI document is valid OpenAPI
 * 3.1 (checked by an OpenAPI schema validator), it describes exactly the routes the server has, and every
 * operation it lists (API and worker protocol alike) answers malformed input — wrong types, missing fields,
 * unknown fields, huge values, non-JSON — with a documented 4xx and a stable code, never a 500. The
 * operations are read from the document, so a new route is covered as soon as it exists.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { createApi } from '../../src/api/server.js';
import { ERROR_CODES } from '../../src/model/errors.js';
import { tempDir, writeProject } from '../helpers.js';

type Json = Record<string, any>;
interface Op {
  readonly method: string;
  readonly path: string;
  readonly op: Json;
}

const TOKEN = 'contract-test-admin-token';
const LEASE = { runId: 'r1', attempt: 1, token: 't1' };
/** A body of the right shape for each operation that takes one (the answer may still be 404 or 409). */
const VALID_BODIES: Record<string, Json> = {
  'post /api/v1/runs': { job: 'hello', params: {} },
  'post /api/v1/schedules/{project}/{job}/backfill': { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', dry_run: true },
  'put /api/v1/secrets/{project}/{name}': { value: 'a-long-secret' },
  'post /api/v1/tokens': { name: 'contract-token', scope: 'read', project: null },
  'post /api/v1/workers': { id: 'w-contract', host: 'h', pools: ['default'], capacity: 1, version: '0' },
  'post /api/v1/workers/{id}/claim': { pools: ['nothing-here'], max: 1, wait_ms: 0 },
  'post /api/v1/workers/{id}/heartbeat': { leases: [LEASE] },
  'post /api/v1/workers/{id}/network': { checks: [{ endpoint: 'tcp://db:5432', result: 'ok', latencyMs: 1, detail: null, checkedAt: 0 }] },
  'post /api/v1/leases/started': { lease: LEASE, info: { pid: 1, procStart: null, startedAt: 1 } },
  'post /api/v1/leases/logs': { lease: LEASE, lines: [{ seq: 1, ts: 1, stream: 'stdout', line: 'x' }] },
  'post /api/v1/leases/logs-many': { items: [{ lease: LEASE, lines: [{ seq: 1, ts: 1, stream: 'stdout', line: 'x' }] }] },
  'post /api/v1/leases/finish': { lease: LEASE, result: { outcome: 'succeeded', exitCode: 0, reason: null, metrics: [], artifacts: [] } },
  'post /api/v1/leases/abandon': { lease: LEASE, reason: 'test' },
  'post /api/v1/leases/inputs': { lease: LEASE },
  'post /api/v1/blobs/missing': { blobs: ['a'.repeat(64)] },
  'post /api/v1/snapshots/{name}': { kind: 'file', files: [{ path: 'data.csv', sha256: 'a'.repeat(64), size: 1 }] },
  'post /api/v1/leases/artifacts': { lease: LEASE, artifacts: [] },
  'post /api/v1/packages/{name}/{version}/yank': { reason: 'test' },
  'post /api/v1/pipelines/{project}/{pipeline}/runs': { params: {} },
  'post /api/v1/pipelines/{project}/{pipeline}/backfill': { from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', dry_run: true },
  'post /api/v1/pipeline-runs/{id}/rerun': { from_failed: true },
};
const PATH_VALUES: Record<string, string> = { hash: 'a'.repeat(64), version: '1', id: 'w-contract', name: 'DB_PASSWORD' };
const CODES = new Set<string>(Object.values(ERROR_CODES));

function resolveRef(doc: Json, s: Json | undefined): Json | undefined {
  if (!s?.$ref) return s;
  return doc.components.schemas[String(s.$ref).replace('#/components/schemas/', '')] as Json;
}

/** A value of another JSON type than the schema wants. */
function wrongType(s: Json | undefined): unknown {
  const t = Array.isArray(s?.type) ? s.type[0] : s?.type;
  if (t === 'string') return 12345;
  if (t === 'integer' || t === 'number') return 'not a number';
  if (t === 'boolean') return 'yes';
  if (t === 'array') return { not: 'a list' };
  if (t === 'object') return ['not', 'an', 'object'];
  if (s?.anyOf || s?.enum || s?.const !== undefined) return { surely: 'wrong' };
  return Symbol.for('skip');
}

describe('the API contract', () => {
  const dir = tempDir();
  const data = tempDir();
  let up: Embedded;
  let doc: Json;
  let ops: Op[];

  before(async () => {
    writeProject(dir.path, { 'kairos.yaml': 'project: contract\njobs:\n  hello:\n    run: "echo hi"\n    schedule: "0 3 * * *"\n' });
    // An admin token from the start: creating a token (one of the valid bodies) turns authentication on.
    up = await startEmbedded({ projectDir: dir.path, dataDir: data.path, port: 0, watch: false, concurrency: 0, token: TOKEN, log: () => {} });
    doc = (await (await fetch(`${up.url}/api/v1/openapi.json`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Json;
    ops = Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method, path, op: op as Json })));
  });

  after(async () => {
    await up.stop(2000);
    dir.cleanup();
    data.cleanup();
  });

  async function send(o: Op, opts: { params?: Record<string, string>; query?: string; body?: string | null; contentType?: string } = {}): Promise<{ status: number; json: Json | null; text: string }> {
    const path = o.path.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(opts.params?.[k] ?? PATH_VALUES[k] ?? 'x'));
    const res = await fetch(`${up.url}${path}${opts.query ?? ''}`, {
      method: o.method.toUpperCase(),
      headers: { authorization: `Bearer ${TOKEN}`, ...(opts.body !== undefined && opts.body !== null ? { 'content-type': opts.contentType ?? 'application/json' } : {}) },
      body: opts.body ?? undefined,
    });
    const text = o.method === 'get' && res.ok ? '' : await res.text();
    if (o.method === 'get' && res.ok) await res.body?.cancel();
    let json: Json | null = null;
    try {
      json = JSON.parse(text) as Json;
    } catch {
      // not JSON
    }
    return { status: res.status, json, text };
  }

  /** The answer is the documented 4xx with a stable code; `status` when one is expected exactly. */
  function refused(o: Op, what: string, r: { status: number; json: Json | null; text: string }, status = 400, code?: string): void {
    const where = `${o.method.toUpperCase()} ${o.path} with ${what}`;
    assert.notEqual(r.status, 500, `${where}: 500 ${r.text}`);
    assert.equal(r.status, status, `${where}: ${r.status} ${r.text.slice(0, 300)}`);
    assert.ok(o.op.responses[String(r.status)], `${where}: ${r.status} is a documented answer`);
    const c = r.json?.error?.code as string | undefined;
    assert.ok(c && CODES.has(c), `${where}: a stable code, got ${r.text.slice(0, 200)}`);
    if (code) assert.equal(c, code, where);
    assert.equal(typeof r.json?.error?.message, 'string');
  }

  test('the OpenAPI document is valid OpenAPI 3.1, and the validator does refuse a broken one', async () => {
    const v = new Validator();
    const res = await v.validate(structuredClone(doc));
    assert.equal(res.valid, true, JSON.stringify(res.errors, null, 2));
    assert.equal(doc.openapi, '3.1.0');
    const broken = structuredClone(doc);
    delete broken.paths['/api/v1/runs'].get.responses;
    broken.paths['/api/v1/runs'].get.parameters[0].in = 'nowhere';
    assert.equal((await new Validator().validate(broken)).valid, false);
  });

  test('the document describes every route the server has, and no route it does not have', () => {
    const app = createApi({ engine: up.engine });
    const served = new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)(?:\{[^}]*\})?/g, '{$1}')}`));
    const described = new Set(ops.map((o) => `${o.method} ${o.path}`));
    assert.deepEqual([...served].filter((r) => !described.has(r)), [], 'routes served but not described');
    assert.deepEqual([...described].filter((r) => !served.has(r)), [], 'routes described but not served');
    assert.ok(described.has('post /api/v1/leases/finish') && described.has('get /api/v1/runs/{id}/logs/stream'));
  });

  test('an unknown query parameter, and an over-long path parameter, are 400 invalid_input on every route', async () => {
    for (const o of ops) {
      refused(o, 'an unknown query parameter', await send(o, { query: '?surely_not_a_parameter=1' }), 400, 'invalid_input');
      const names = [...o.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '');
      for (const n of names) refused(o, `a 1000-character path parameter ${n}`, await send(o, { params: { [n]: 'y'.repeat(1000) } }), 400, 'invalid_input');
    }
  });

  test('every query parameter refuses a huge value and a value of the wrong kind', async () => {
    for (const o of ops) {
      for (const p of (o.op.parameters ?? []) as Json[]) {
        if (p.in !== 'query') continue;
        refused(o, `a 5000-character "${p.name}"`, await send(o, { query: `?${p.name}=${'9'.repeat(5000)}` }), 400, 'invalid_input');
        if (p.schema.pattern || p.schema.enum) refused(o, `"${p.name}" not matching its pattern`, await send(o, { query: `?${p.name}=%2A%20not-it` }), 400, 'invalid_input');
      }
    }
  });

  test('every body: non-JSON, not an object, unknown fields, each field missing or of the wrong type, too long, too large', async () => {
    const bodyOps = ops.filter((o) => o.method !== 'get');
    for (const o of bodyOps) {
      const key = `${o.method} ${o.path}`;
      const raw = o.op.requestBody?.content?.['application/x-kairos-bundle'];
      if (raw) {
        const bad = await send(o, { query: `?hash=${'b'.repeat(64)}`, body: 'this is not a bundle', contentType: 'application/x-kairos-bundle' });
        refused(o, 'a body that is not a bundle', bad, 400, 'invalid_bundle');
        continue;
      }
      if (o.op.requestBody?.content?.['application/octet-stream']) {
        if (o.path.startsWith('/api/v1/blobs/')) {
          // Raw bytes named by their SHA-256: bytes that do not hash to the name are refused, nothing kept.
          refused(o, 'bytes that do not match their hash', await send(o, { body: 'not the bytes', contentType: 'application/octet-stream' }), 400, 'invalid_input');
        } else {
          // An artifact's bytes: refused before a byte is kept when the lease is not one (the bytes are checked by hash).
          const bad = await send(o, { params: { hash: 'a'.repeat(64) }, query: `?run=r1&attempt=1&lease=nope&size=4`, body: 'abcd', contentType: 'application/octet-stream' });
          assert.ok(bad.status >= 400 && bad.status < 500, `${key}: ${bad.status}`);
        }
        continue;
      }
      refused(o, 'a body that is not JSON', await send(o, { body: '{"not json' }), 400, 'invalid_input');
      refused(o, 'a JSON array', await send(o, { body: '[1, 2]' }), 400, 'invalid_input');
      refused(o, 'a JSON string', await send(o, { body: '"text"' }), 400, 'invalid_input');
      refused(o, 'a body over 1 MiB', await send(o, { body: JSON.stringify({ big: 'x'.repeat(1_100_000) }) }), 400, 'invalid_input');
      const schema = resolveRef(doc, o.op.requestBody?.content?.['application/json']?.schema);
      const valid = VALID_BODIES[key] ?? {};
      if (schema && Object.keys(schema.properties ?? {}).length > 0) assert.ok(VALID_BODIES[key], `${key} takes a body: give it a valid one in VALID_BODIES`);
      refused(o, 'an unknown field', await send(o, { body: JSON.stringify({ ...valid, surely_not_a_field: 1 }) }), 400, 'invalid_input');

      const props = (schema?.properties ?? {}) as Record<string, Json>;
      for (const name of (schema?.required ?? []) as string[]) {
        const { [name]: _, ...rest } = valid;
        const r = await send(o, { body: JSON.stringify(rest) });
        refused(o, `"${name}" missing`, r, 400, 'invalid_input');
        assert.ok((r.json?.error?.details?.issues as Json[]).some((i) => i.path[0] === name), `${key}: the details name "${name}"`);
      }
      for (const [name, ps] of Object.entries(props)) {
        const wrong = wrongType(resolveRef(doc, ps));
        if (wrong !== Symbol.for('skip')) {
          const r = await send(o, { body: JSON.stringify({ ...valid, [name]: wrong }) });
          refused(o, `"${name}" of the wrong type`, r, 400, 'invalid_input');
        }
        const max = (resolveRef(doc, ps)?.maxLength ?? resolveRef(doc, ps)?.maxItems) as number | undefined;
        if (max !== undefined && max < 500_000) {
          const long = resolveRef(doc, ps)?.maxLength !== undefined ? 'x'.repeat(max + 1) : Array.from({ length: max + 1 }, () => valid[name]?.[0] ?? 'x');
          refused(o, `"${name}" over its limit of ${max}`, await send(o, { body: JSON.stringify({ ...valid, [name]: long }) }), 400, 'invalid_input');
        }
      }
      // The right shape gets past the contract: whatever the answer, it is not a 400 for the shape, nor a 500.
      const ok = await send(o, { body: JSON.stringify(valid) });
      assert.ok(ok.status < 500, `${key} with a valid body: ${ok.status} ${ok.text}`);
      if (ok.status >= 400) {
        assert.ok(o.op.responses[String(ok.status)], `${key} with a valid body: ${ok.status} is documented (${ok.text})`);
        assert.notEqual(ok.json?.error?.code, 'invalid_input', `${key} with a valid body: ${ok.text}`);
      }
    }
  });

  test('nested worker-protocol fields are checked too: a lease of the wrong shape, a huge log line, a bad outcome', async () => {
    const byKey = new Map(ops.map((o) => [`${o.method} ${o.path}`, o]));
    const finish = byKey.get('post /api/v1/leases/finish')!;
    const logs = byKey.get('post /api/v1/leases/logs')!;
    const base = VALID_BODIES['post /api/v1/leases/finish']!;
    for (const [what, body] of [
      ['a lease without a token', { ...base, lease: { runId: 'r1', attempt: 1 } }],
      ['a lease with attempt "1"', { ...base, lease: { ...LEASE, attempt: '1' } }],
      ['an outcome that is not one', { ...base, result: { ...base.result, outcome: 'exploded' } }],
      ['a metric without a value', { ...base, result: { ...base.result, metrics: [{ name: 'm', step: null, ts: 1 }] } }],
      ['an artifact with a bad checksum', { ...base, result: { ...base.result, artifacts: [{ path: 'a', size: 1, sha256: 'nope' }] } }],
      ['an unknown field in the result', { ...base, result: { ...base.result, extra: true } }],
    ] as const) {
      refused(finish, what, await send(finish, { body: JSON.stringify(body) }), 400, 'invalid_input');
    }
    const line = { seq: 1, ts: 1, stream: 'stdout', line: 'x'.repeat(70_000) };
    refused(logs, 'a 70 000-character log line', await send(logs, { body: JSON.stringify({ lease: LEASE, lines: [line] }) }), 400, 'invalid_input');
    refused(logs, 'a line of an unknown stream', await send(logs, { body: JSON.stringify({ lease: LEASE, lines: [{ ...line, line: 'x', stream: 'stdin' }] }) }), 400, 'invalid_input');
  });

  test('a refusal names the field and never quotes the value sent', async () => {
    const o = ops.find((x) => x.method === 'put' && x.path === '/api/v1/secrets/{project}/{name}')!;
    const r = await send(o, { params: { project: 'contract', name: 'DB_PASSWORD' }, body: JSON.stringify({ value: 'hunter2-secret', also: 'hunter2-secret' }) });
    refused(o, 'an unknown field beside the value', r, 400, 'invalid_input');
    assert.doesNotMatch(r.text, /hunter2/);
    assert.match(r.json?.error?.message as string, /unknown fields "also"/);
  });
});
