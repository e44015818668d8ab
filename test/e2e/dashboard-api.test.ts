/**
 * What the dashboard reads, over real HTTP against a real `kairos up`: the dashboard's files (and nothing
 * beside them), workers, a job's statistics and metric series, deployment diffs, and the runs list's time range.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

const MANIFEST = `
project: dapi
jobs:
  scored:
    run: ["sh", "-c", "echo \\"{\\\\\\"name\\\\\\": \\\\\\"acc\\\\\\", \\\\\\"value\\\\\\": $KAIROS_PARAM_V}\\" >> $KAIROS_OUTPUT; [ $KAIROS_PARAM_V != 0 ]"]
    params:
      v: {type: number, required: true}
  slow:
    run: "sleep 300"
    grace: 1s
  nightly:
    run: "echo nightly"
    schedule: {cron: "30 2 * * *", timezone: Europe/Berlin}
`;

/** A raw GET: the path goes on the wire as written (fetch would normalise "..") */
function rawGet(base: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the dashboard files and read endpoints', () => {
  const dir = tempDir();
  const data = tempDir(); // outside the project, so that deployments hold the project's files only
  let up: Embedded;
  let client: KairosClient;
  const get = async (path: string) => {
    const res = await fetch(up.url + path);
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  };

  before(async () => {
    writeProject(dir.path, { 'kairos.yaml': MANIFEST, 'data.csv': 'a,b\n' });
    up = await startEmbedded({ projectDir: dir.path, dataDir: data.path, port: 0, watch: false, log: () => {} });
    client = new KairosClient(up.url);
  });

  after(async () => {
    await up.stop(5000);
    dir.cleanup();
    data.cleanup();
  });

  test('the dashboard is served at / with its content types; page routes get index.html', async () => {
    const index = await rawGet(up.url, '/');
    assert.equal(index.status, 200);
    assert.match(String(index.headers['content-type']), /^text\/html/);
    assert.match(index.body, /<script type="module" src="\/app.js">/);
    assert.match(String(index.headers['content-security-policy']), /script-src 'self'/);
    const js = await rawGet(up.url, '/app.js');
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.equal(js.headers['cache-control'], 'no-cache');
    const again = await rawGet(up.url, '/app.js', { 'if-none-match': String(js.headers.etag) });
    assert.equal(again.status, 304);
    assert.match(String((await rawGet(up.url, '/style.css')).headers['content-type']), /^text\/css/);
    for (const page of ['/runs/01abc', '/jobs/dapi/scored', '/workers']) {
      const r = await rawGet(up.url, page);
      assert.equal(r.status, 200, page);
      assert.equal(r.body, index.body, page);
    }
  });

  test('nothing outside ui/ is served, however the path is spelled', async () => {
    for (const path of ['/../package.json', '/..%2fpackage.json', '/%2e%2e/package.json', '/%2e%2e%2f%2e%2e%2fpackage.json', '/pages/../../package.json', '/..%5cpackage.json', '/%00index.html', '/.hidden.js', '/missing.js', '/etc/passwd.txt']) {
      const r = await rawGet(up.url, path);
      assert.notEqual(r.status, 200, `${path} answered ${r.status}: ${r.body.slice(0, 80)}`);
      assert.doesNotMatch(r.body, /"name": "kairos"|root:/, path);
    }
    // An unknown API path is the API's JSON 404, not the dashboard.
    const api = await rawGet(up.url, '/api/v1/nothing-here');
    assert.equal(api.status, 404);
    assert.equal(JSON.parse(api.body).error.code, 'not_found');
  });

  test("GET /api/v1/workers lists the local worker: alive, its pools and capacity, and what it runs", async () => {
    const run = await client.createRun('slow', {}, 'dapi');
    const w = await waitFor('the worker to run it', async () => {
      const { json } = await get('/api/v1/workers');
      const worker = json.workers[0];
      return worker?.running.some((r: { run_id: string }) => r.run_id === run.id) ? worker : null;
    });
    assert.equal(w.alive, true);
    assert.deepEqual(w.pools, ['default']);
    assert.ok(w.capacity >= 1);
    assert.match(w.id, /^local@/);
    assert.deepEqual(w.running.find((r: { run_id: string }) => r.run_id === run.id), { run_id: run.id, attempt: 1, project: 'dapi', job: 'slow', started_at: w.running[0].started_at });
    await client.cancelRun(run.id);
  });

  test("GET /api/v1/jobs/{project}/{job} gives the success rate and recent durations; …/metrics one point per run", async () => {
    const ids: string[] = [];
    for (const v of [0.5, 0, 0.75]) ids.push((await client.createRun('scored', { v }, 'dapi')).id);
    for (const id of ids) await client.getRun(id, 120);
    const { status, json } = await get('/api/v1/jobs/dapi/scored');
    assert.equal(status, 200);
    assert.equal(json.job.name, 'scored');
    assert.deepEqual(json.job.params.v, { type: 'number', required: true });
    assert.equal(json.schedule, null);
    assert.deepEqual({ ...json.stats }, { window: 3, finished: 3, succeeded: 2, success_rate: 2 / 3 });
    assert.deepEqual(json.recent.map((r: { id: string }) => r.id), ids, 'oldest first');
    assert.ok(json.recent.every((r: { duration_ms: number }) => r.duration_ms >= 0));
    const m = await get('/api/v1/jobs/dapi/scored/metrics');
    assert.deepEqual(m.json.series.map((s: { name: string }) => s.name), ['acc']);
    assert.deepEqual(m.json.series[0].points.map((p: { run_id: string; value: number }) => [p.run_id, p.value]), [[ids[0], 0.5], [ids[1], 0], [ids[2], 0.75]]);
    const sched = await get('/api/v1/jobs/dapi/nightly?count=2');
    assert.equal(sched.json.schedule.cron, '30 2 * * *');
    assert.equal(sched.json.schedule.next.length, 2);
    assert.ok(sched.json.schedule.description);
    assert.equal((await get('/api/v1/jobs/dapi/nope')).json.error.code, 'not_found');
    assert.equal((await get('/api/v1/jobs/dapi/nope/metrics')).status, 404);
    assert.equal((await get('/api/v1/jobs/dapi/scored?recent=0')).json.error.code, 'invalid_input');
  });

  test('GET /api/v1/runs takes a time range (since, until)', async () => {
    const all = (await get('/api/v1/runs?project=dapi&limit=100')).json.runs as { id: string; created_at: string }[];
    assert.ok(all.length >= 3);
    const mid = all[Math.floor(all.length / 2)]!;
    const newer = (await get(`/api/v1/runs?project=dapi&since=${mid.created_at}`)).json.runs as { created_at: string }[];
    assert.ok(newer.length >= 1 && newer.every((r) => r.created_at >= mid.created_at));
    const older = (await get(`/api/v1/runs?project=dapi&until=${mid.created_at}`)).json.runs as { created_at: string }[];
    assert.ok(older.every((r) => r.created_at < mid.created_at));
    assert.equal(newer.length + older.length, all.length);
    assert.equal((await get('/api/v1/runs?since=yesterday')).json.error.code, 'invalid_input');
  });

  test('GET /api/v1/deployments/{id}/diff names the jobs and files a deployment changed', async () => {
    writeFileSync(join(dir.path, 'kairos.yaml'), MANIFEST.replace('echo nightly', 'echo nightly v2') + '  extra:\n    run: "true"\n');
    writeFileSync(join(dir.path, 'new.py'), 'print(1)\n');
    const r = await up.redeploy();
    assert.ok(r.ok && r.created);
    const { json } = await get('/api/v1/deployments?project=dapi');
    const latest = json.deployments[0];
    const diff = (await get(`/api/v1/deployments/${latest.id}/diff`)).json;
    assert.equal(diff.version, 2);
    assert.equal(diff.previous.version, 1);
    assert.deepEqual(diff.jobs, { added: ['extra'], removed: [], changed: [{ job: 'nightly', fields: ['run'] }] });
    assert.deepEqual(diff.files, { added: ['new.py'], removed: [], changed: ['kairos.yaml'], available: true });
    const first = (await get(`/api/v1/deployments/${json.deployments[1].id}/diff`)).json;
    assert.equal(first.previous, null);
    assert.deepEqual(first.files.added.sort(), ['data.csv', 'kairos.yaml']);
    assert.equal((await get('/api/v1/deployments/nope/diff')).status, 404);
  });
});

test('`kairos server` serves the dashboard too', async () => {
  const data = tempDir();
  const port = await freePort();
  const server = spawnCli(['server', '--port', String(port), '--data', data.path]);
  try {
    const page = await waitFor('the server to answer', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/runs`).catch(() => null);
      return res?.ok ? res.text() : null;
    });
    assert.match(page, /<title>Kairos<\/title>/);
    const js = await fetch(`http://127.0.0.1:${port}/pages/runs.js`);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
  } finally {
    server.child.kill('SIGTERM');
    await exited(server.child);
    data.cleanup();
  }
});

test('with a visibility check (tokens limited to a project), another project’s job and deployment do not exist', async () => {
  const dir = tempDir();
  const data = tempDir();
  writeProject(dir.path, { 'kairos.yaml': 'project: hidden\njobs:\n  j:\n    run: "true"\n' });
  const up = await startEmbedded({ projectDir: dir.path, dataDir: data.path, port: 0, watch: false, concurrency: 0, log: () => {} });
  try {
    const { Hono } = await import('hono');
    const { registerDashboardRoutes } = await import('../../src/api/dashboard-routes.js');
    const { errorBody } = await import('../../src/api/errors.js');
    const app = new Hono();
    app.onError((err, c) => {
      const { status, body } = errorBody(err);
      return c.json(body, status as 404);
    });
    registerDashboardRoutes(app, up.engine, (_c, project) => project === 'someone-else');
    const dep = (await up.engine.db.kysely.selectFrom('deployments').select('id').executeTakeFirstOrThrow()).id;
    for (const path of ['/api/v1/jobs/hidden/j', '/api/v1/jobs/hidden/j/metrics', `/api/v1/deployments/${dep}/diff`]) {
      const res = await app.request(path);
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'not_found');
    }
    // Without the check (the default), the same job is there.
    const open = new Hono();
    registerDashboardRoutes(open, up.engine);
    assert.equal((await open.request('/api/v1/jobs/hidden/j')).status, 200);
  } finally {
    await up.stop(1000);
    dir.cleanup();
    data.cleanup();
  }
});
