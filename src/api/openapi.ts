/** The OpenAPI 3.1 document served at /api/v1/openapi.json. Keep it in step with ./server.ts (a test checks every route is listed). */
import { VERSION } from '../version.js';

const error = { $ref: '#/components/schemas/Error' };
const run = { $ref: '#/components/schemas/Run' };
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' }, description: 'run id' };
const projectJob = [
  { name: 'project', in: 'path', required: true, schema: { type: 'string' } },
  { name: 'job', in: 'path', required: true, schema: { type: 'string' } },
];
const errors = { '400': { description: 'bad input', ...json(error) }, '404': { description: 'not found', ...json(error) } };

export function openApiDocument(): Record<string, unknown> {
  return {
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
            params: { type: 'object' },
          },
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
      '/api/v1/runs/{id}/attempts': { get: { summary: "A run's attempts", parameters: [idParam], responses: { '200': { description: 'attempts' }, ...errors } } },
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
      '/api/v1/deployments': { get: { summary: 'Deployments, newest first', responses: { '200': { description: 'deployments' } } } },
      '/api/v1/jobs': { get: { summary: 'Jobs of the active deployments', responses: { '200': { description: 'jobs' } } } },
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
      '/api/v1/leases/abandon': { post: { summary: 'Give an attempt up as lost {lease, reason}', responses: { '200': { description: 'ok' }, '409': { description: 'stale lease', ...json(error) } } } },
      '/api/v1/bundles/{hash}': { get: { summary: "A deployment's bundle as a stream of entries (JSON header line, then the bytes)", parameters: [{ name: 'hash', in: 'path', required: true, schema: { type: 'string' } }], responses: { '200': { description: 'bundle', content: { 'application/x-kairos-bundle': {} } }, ...errors } } },
    },
  };
}
