/** The OpenAPI 3.1 document served at /api/v1/openapi.json. Keep it in step with ./server.ts (a test checks every route is listed). */
import { VERSION } from '../version.js';
import { requiredScope } from './scopes.js';
import { REASON_CODE_LIST } from '../model/reasons.js';

const error = { $ref: '#/components/schemas/Error' };
const run = { $ref: '#/components/schemas/Run' };
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'run id' };
const projectJob = [
  { name: 'project', in: 'path', required: true, schema: { type: 'string' } },
  { name: 'job', in: 'path', required: true, schema: { type: 'string' } },
];
const secret = { $ref: '#/components/schemas/Secret' };
const projectName = [
  { name: 'project', in: 'path', required: true, schema: { type: 'string' } },
  { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]{0,127}$' } },
];
const errors = { '400': { description: 'bad input', ...json(error) }, '404': { description: 'not found', ...json(error) } };

export function openApiDocument(): Record<string, unknown> {
  const doc = {
    openapi: '3.1.0',
    info: { title: 'Kairos API', version: VERSION, description: 'Runs, logs, schedules and deployments. Errors are JSON with a stable code.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} }, required: ['code', 'message'] } },
        },
        Run: {
          type: 'object',
          required: ['id', 'project', 'job', 'state', 'attempt', 'trigger', 'scheduled_for', 'created_at', 'started_at', 'finished_at', 'exit_code'],
          properties: {
            id: { type: 'string' },
            project: { type: 'string' },
            job: { type: 'string' },
            state: { enum: ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'skipped'] },
            attempt: { type: 'integer' },
            trigger: { enum: ['schedule', 'manual', 'backfill', 'rerun'] },
            scheduled_for: { type: ['string', 'null'], format: 'date-time' },
            created_at: { type: 'string', format: 'date-time' },
            started_at: { type: ['string', 'null'], format: 'date-time' },
            finished_at: { type: ['string', 'null'], format: 'date-time' },
            exit_code: { type: ['integer', 'null'] },
            reason: { type: ['string', 'null'] },
            reason_code: { enum: [...REASON_CODE_LIST, null], description: 'why it ended, as a stable code (docs/runs.md)' },
            params: { type: 'object' },
          },
        },
        Secret: {
          type: 'object',
          required: ['project', 'name', 'created_at', 'updated_at', 'key_id'],
          properties: { project: { type: 'string' }, name: { type: 'string' }, created_at: { type: 'string', format: 'date-time' }, updated_at: { type: 'string', format: 'date-time' }, key_id: { type: 'string', description: 'fingerprint of the key that sealed it' } },
        },
        LogLine: {
          type: 'object',
          properties: { seq: { type: 'integer' }, attempt: { type: 'integer' }, ts: { type: 'string', format: 'date-time' }, stream: { enum: ['stdout', 'stderr', 'system'] }, line: { type: 'string' } },
        },
      },
    },
    security: [{ bearer: [] }, {}],
    paths: {
      '/api/v1/health': { get: { summary: 'Server health, version and tz database version', responses: { '200': { description: 'ok' } } } },
      '/api/v1/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'ok' } } } },
      '/api/v1/runs': {
        get: {
          summary: 'Run history, newest first',
          parameters: ['project', 'job', 'state', 'trigger', 'limit', 'before', 'since', 'until'].map((name) => ({ name, in: 'query', schema: { type: 'string' } })),
          responses: { '200': { description: 'runs', ...json({ type: 'object', properties: { runs: { type: 'array', items: run }, next_before: { type: ['string', 'null'] } } }) }, ...errors },
        },
        post: {
          summary: 'Start an ad-hoc run; parameters are validated before the run exists',
          requestBody: json({ type: 'object', required: ['job'], properties: { project: { type: 'string' }, job: { type: 'string' }, params: { type: 'object' } } }),
          responses: { '201': { description: 'created', ...json(run) }, '422': { description: 'invalid parameters', ...json(error) }, ...errors },
        },
      },
      '/api/v1/runs/{id}': {
        get: {
          summary: 'One run; with ?wait=SECONDS, waits until it is terminal',
          parameters: [idParam, { name: 'wait', in: 'query', schema: { type: 'integer' } }],
          responses: { '200': { description: 'run', ...json(run) }, ...errors },
        },
      },
      '/api/v1/runs/{id}/attempts': { get: { summary: "A run's attempts, each with its state, exit code, reason and reason_code", parameters: [idParam], responses: { '200': { description: 'attempts' }, ...errors } } },
      '/api/v1/runs/{id}/outputs': { get: { summary: "A run's metrics and artifacts", parameters: [idParam], responses: { '200': { description: 'outputs' }, ...errors } } },
      '/api/v1/runs/{id}/cancel': { post: { summary: 'Cancel a run (idempotent)', parameters: [idParam], responses: { '200': { description: 'run', ...json(run) }, ...errors } } },
      '/api/v1/runs/{id}/rerun': { post: { summary: 'Repeat a run with the same deployment, parameters and logical time', parameters: [idParam], responses: { '201': { description: 'new run', ...json(run) }, ...errors } } },
      '/api/v1/runs/{id}/logs': {
        get: {
          summary: "A page of a run's log after sequence number `after`",
          parameters: [idParam, ...['after', 'limit', 'attempt'].map((name) => ({ name, in: 'query', schema: { type: 'integer' } }))],
          responses: { '200': { description: 'lines', ...json({ type: 'object', properties: { lines: { type: 'array', items: { $ref: '#/components/schemas/LogLine' } }, next_after: { type: 'integer' }, state: { type: 'string' }, more: { type: 'boolean' } } }) }, ...errors },
        },
      },
      '/api/v1/runs/{id}/logs/text': {
        get: {
          summary: "The whole log as plain text, one stored line per line, streamed; `stream` keeps one of stdout, stderr, system",
          parameters: [idParam, { name: 'stream', in: 'query', schema: { type: 'string', enum: ['stdout', 'stderr', 'system'] } }, { name: 'attempt', in: 'query', schema: { type: 'integer' } }],
          responses: { '200': { description: 'text', content: { 'text/plain': {} } }, ...errors },
        },
      },
      '/api/v1/runs/{id}/logs/stream': {
        get: {
          summary: 'The live log as newline-delimited JSON: {"type":"line",...} objects, then {"type":"end","state","exit_code"}',
          parameters: [idParam, { name: 'after', in: 'query', schema: { type: 'integer' } }],
          responses: { '200': { description: 'stream', content: { 'application/x-ndjson': {} } }, ...errors },
        },
      },
      '/api/v1/schedules': { get: { summary: 'Schedules with their next fire times (UTC and local); dst_note when a daylight-saving change falls among them', parameters: [{ name: 'project', in: 'query', schema: { type: 'string' } }, { name: 'count', in: 'query', schema: { type: 'integer' } }], responses: { '200': { description: 'schedules' } } } },
      '/api/v1/schedules/{project}/{job}/ticks': {
        get: {
          summary: 'The tick ledger of a schedule, newest first: each tick once, with its outcome (fired, late, skipped), reason, run and lateness',
          parameters: [...projectJob, { name: 'limit', in: 'query', schema: { type: 'integer' } }, ...['from', 'to'].map((name) => ({ name, in: 'query', schema: { type: 'string', format: 'date-time' } }))],
          responses: { '200': { description: 'ticks' }, ...errors },
        },
      },
      '/api/v1/schedules/{project}/{job}/backfill': {
        post: {
          summary: "One run for each tick of the job's schedule in [from, to] (past instants), each with its tick as logical time; ticks that already have a run are left alone",
          parameters: projectJob,
          requestBody: json({ type: 'object', required: ['from', 'to'], properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' }, dry_run: { type: 'boolean' } } }),
          responses: {
            '201': { description: 'runs created', ...json({ type: 'object', properties: { ticks: { type: 'integer' }, existing: { type: 'integer' }, created: { type: 'array', items: run }, planned: { type: 'array' }, dry_run: { type: 'boolean' } } }) },
            '200': { description: 'nothing created (dry run, or every tick already has a run)' },
            '422': { description: 'parameter defaults are not valid', ...json(error) },
            ...errors,
          },
        },
      },
      '/api/v1/schedules/{project}/{job}/pause': { post: { summary: 'Pause a schedule', parameters: projectJob, responses: { '200': { description: 'schedule' }, ...errors } } },
      '/api/v1/schedules/{project}/{job}/resume': { post: { summary: 'Resume a schedule', parameters: projectJob, responses: { '200': { description: 'schedule' }, ...errors } } },
      '/api/v1/deployments': {
        get: { summary: 'Deployments, newest first: version, bundle_hash, deployed_by, created_at, git_commit, git_dirty, active', parameters: [{ name: 'project', in: 'query', schema: { type: 'string' } }], responses: { '200': { description: 'deployments' } } },
        post: {
          summary: 'Deploy: the body is a bundle stream (per entry a JSON header line {path, kind, mode, size, sha256, target?}, then the bytes); checked whole, its kairos.yaml compiled, then activated as a new version',
          parameters: [
            { name: 'hash', in: 'query', required: true, schema: { type: 'string' }, description: "the bundle's SHA-256" },
            { name: 'commit', in: 'query', schema: { type: 'string' }, description: 'git commit of the deployed checkout' },
            { name: 'dirty', in: 'query', schema: { enum: ['0', '1'] }, description: '1 when the checkout had uncommitted changes' },
            { name: 'source', in: 'query', schema: { type: 'string' } },
          ],
          requestBody: { required: true, content: { 'application/x-kairos-bundle': {} } },
          responses: {
            '201': { description: 'activated as a new version' },
            '200': { description: 'the active version already has these files and manifest' },
            '400': { description: 'invalid_bundle (details.reason: unsafe_path, link_outside, too_many_files, too_large, corrupt, hash_mismatch, truncated, bad_entry)', ...json(error) },
            '403': { description: 'forbidden: scope below deploy, or a project-limited token and another project', ...json(error) },
            '422': { description: 'invalid_manifest (details.errors: FILE:LINE:COL lines)', ...json(error) },
          },
        },
      },
      '/api/v1/deployments/{project}/active': { get: { summary: "A project's active version with its compiled manifest (what `kairos deploy --plan` compares with)", parameters: [projectJob[0]], responses: { '200': { description: 'deployment and manifest' }, ...errors } } },
      '/api/v1/deployments/{project}/{version}/activate': {
        post: { summary: 'Make an earlier version active again (rollback); schedules follow its manifest', parameters: [projectJob[0], { name: 'version', in: 'path', required: true, schema: { type: 'integer' } }], responses: { '200': { description: 'deployment' }, ...errors } },
      },
      '/api/v1/tokens': {
        get: { summary: 'Live tokens (never the token itself); a project-limited caller sees its project only', responses: { '200': { description: 'tokens' } } },
        post: { summary: 'Create a token {name, scope, project?}; the answer holds `token`, shown only this once', responses: { '201': { description: 'token' }, ...errors } },
      },
      '/api/v1/tokens/{name}': { delete: { summary: 'Revoke a token', parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'revoked token' }, ...errors } } },
      '/api/v1/whoami': { get: { summary: "The caller's token name, scope and project", responses: { '200': { description: 'principal' } } } },
      '/api/v1/jobs': { get: { summary: 'Jobs of the active deployments', responses: { '200': { description: 'jobs' } } } },
      // Secrets (src/api/secrets.ts): values go in, never come out.
      '/api/v1/secrets': {
        get: {
          summary: 'Secret names (never values), by project',
          parameters: [{ name: 'project', in: 'query', schema: { type: 'string' } }],
          responses: { '200': { description: 'secrets', ...json({ type: 'object', properties: { secrets: { type: 'array', items: secret } } }) }, ...errors },
        },
      },
      '/api/v1/secrets/{project}/{name}': {
        put: {
          summary: 'Set a secret (create or replace); the value is sealed with AES-256-GCM before it is stored',
          parameters: projectName,
          requestBody: json({ type: 'object', required: ['value'], properties: { value: { type: 'string', minLength: 4, description: 'at most 64 KiB' } } }),
          responses: { '201': { description: 'created', ...json(secret) }, '200': { description: 'replaced', ...json(secret) }, ...errors },
        },
        delete: { summary: 'Delete a secret', parameters: projectName, responses: { '200': { description: 'deleted' }, ...errors } },
      },
      '/api/v1/alerts': {
        get: {
          summary: 'Alerts (the webhook outbox), newest first, with their delivery state: pending, delivered, failed',
          parameters: ['project', 'job', 'run', 'state', 'limit'].map((name) => ({ name, in: 'query', schema: { type: name === 'limit' ? 'integer' : 'string' } })),
          responses: {
            '200': {
              description: 'alerts',
              ...json({
                type: 'object',
                properties: {
                  alerts: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        id: { type: 'string' }, project: { type: 'string' }, job: { type: 'string' }, run_id: { type: 'string' }, rule: { type: 'string' },
                        kind: { enum: ['failure', 'recovery', 'late_start', 'late_finish', 'metric'] }, format: { enum: ['json', 'slack'] },
                        target: { type: 'string', description: "the webhook's origin; its path is never returned" },
                        state: { enum: ['pending', 'delivered', 'failed'] }, attempts: { type: 'integer' },
                        next_attempt_at: { type: ['string', 'null'], format: 'date-time' }, last_error: { type: ['string', 'null'] },
                        created_at: { type: 'string', format: 'date-time' }, delivered_at: { type: ['string', 'null'], format: 'date-time' },
                        payload: { type: 'object' },
                      },
                    },
                  },
                },
              }),
            },
            ...errors,
          },
        },
      },
      '/metrics': { get: { summary: 'Prometheus metrics (text exposition format 0.0.4); same token as the API', responses: { '200': { description: 'metrics', content: { 'text/plain': {} } } } } },
      // Read endpoints of the dashboard (src/api/dashboard-routes.ts).
      '/api/v1/jobs/{project}/{job}': {
        get: {
          summary: "One job of an active deployment: its definition, its schedule (in words, next fire times), success rate and the newest runs' outcomes and durations",
          parameters: [...projectJob, { name: 'recent', in: 'query', schema: { type: 'integer' }, description: 'how many recent runs (default 100)' }, { name: 'count', in: 'query', schema: { type: 'integer' }, description: 'next fire times (default 5)' }],
          responses: { '200': { description: 'job, schedule, stats {window, finished, succeeded, success_rate}, recent [{id, state, duration_ms, …}]' }, ...errors },
        },
      },
      '/api/v1/jobs/{project}/{job}/metrics': {
        get: {
          summary: "Each metric the job reports, over its newest runs: one point per run (the run's last value), oldest first",
          parameters: [...projectJob, { name: 'runs', in: 'query', schema: { type: 'integer' }, description: 'how many recent runs (default 100)' }],
          responses: { '200': { description: 'series [{name, points: [{run_id, created_at, state, value}]}]' }, ...errors },
        },
      },
      '/api/v1/deployments/{id}/diff': {
        get: {
          summary: 'What a deployment changed against the version before it: jobs added, removed, changed (with the fields), files added, removed, changed',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'deployment id' }],
          responses: { '200': { description: 'diff' }, ...errors },
        },
      },
      // The worker protocol (src/api/worker-routes.ts): what `kairos worker` calls. A stale lease is 409 stale_lease.
      '/api/v1/workers': {
        get: { summary: 'Workers: host, pools, capacity, version, alive (renewed within two lease periods), and the attempts each runs now', responses: { '200': { description: 'workers' } } },
        post: { summary: 'Register a worker {id, host, pools, capacity, version}', responses: { '200': { description: 'registered; lease_ms' }, ...errors } },
      },
      '/api/v1/workers/{id}/recover': { post: { summary: "Attempts a restarted worker still held (to kill and give up)", parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'attempts' } } } },
      '/api/v1/workers/{id}/claim': { post: { summary: 'Claim up to `max` runs of `pools`; waits up to `wait_ms` for one (long polling)', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'assignments' }, ...errors } } },
      '/api/v1/workers/{id}/heartbeat': { post: { summary: 'Renew leases; returns refused leases and runs to cancel', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'refused, cancel' }, ...errors } } },
      '/api/v1/workers/{id}/stop': { post: { summary: 'A worker stopping', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'ok' } } } },
      '/api/v1/leases/started': { post: { summary: "An attempt's process started {lease, info}", responses: { '200': { description: 'ok' }, '409': { description: 'stale lease', ...json(error) } } } },
      '/api/v1/leases/logs': { post: { summary: "Log lines of an attempt {lease, lines}", responses: { '200': { description: 'ok' }, '409': { description: 'stale lease', ...json(error) } } } },
      '/api/v1/leases/logs-many': { post: { summary: 'Log lines of several attempts {items: [{lease, lines}]}; returns the stale leases', responses: { '200': { description: 'stale' }, ...errors } } },
      '/api/v1/leases/finish': { post: { summary: 'An attempt ended {lease, result, next?}; claims the next runs when asked', responses: { '200': { description: 'assignments' }, '409': { description: 'stale lease', ...json(error) } } } },
      '/api/v1/leases/abandon': { post: { summary: 'Give an attempt up as lost {lease, reason, reason_code?: lost | node_failure | shutdown}', responses: { '200': { description: 'ok' }, '409': { description: 'stale lease', ...json(error) } } } },
      '/api/v1/bundles/{hash}': { get: { summary: "A deployment's bundle as a stream of entries (JSON header line, then the bytes)", parameters: [{ name: 'hash', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'bundle', content: { 'application/x-kairos-bundle': {} } }, ...errors } } },
    },
  };
  return withScopes(doc);
}

/** Every operation says the scope it needs (from the one table in scopes.ts) and that it takes a bearer token. */
function withScopes(doc: Record<string, unknown>): Record<string, unknown> {
  const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const need = requiredScope(method.toUpperCase(), path.replace(/\{([^}]+)\}/g, ':$1'));
      op['x-kairos-scope'] = need;
      op.security = [{ bearer: [] }];
      const responses = op.responses as Record<string, unknown>;
      responses['401'] ??= { description: 'unauthorized: missing, unknown or revoked token', ...json(error) };
      if (need !== 'any') responses['403'] ??= { description: `forbidden: needs scope ${need}`, ...json(error) };
    }
  }
  return doc;
}
