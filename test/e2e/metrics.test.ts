/**
 * /metrics against a real control plane (`kairos up --concurrency 0`, with a token) and a real remote worker
 * serving one pool: the exposition parses as Prometheus text format 0.0.4, and its figures match the runs,
 * queue, workers, ticks and API requests that actually happened.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** A strict parser of the text format: every sample belongs to a family declared (HELP, TYPE) before it. */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const families = new Map<string, Family>();
  let current: string | null = null;
  for (const line of text.slice(0, -1).split('\n')) {
    let m = /^# HELP (\S+) (.*)$/.exec(line);
    if (m) {
      const [, name = '', help = ''] = m;
      assert.match(name, NAME);
      assert.ok(!families.has(name), `${name} is declared once`);
      families.set(name, { type: '', help, samples: [] });
      current = name;
      continue;
    }
    m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      assert.equal(m[1], current, `TYPE of ${m[1]} follows its HELP`);
      const f = families.get(m[1] ?? '');
      assert.ok(f);
      f.type = m[2] ?? '';
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${JSON.stringify(line)}`);
    const [, name = '', labelText = '', valueText = ''] = m;
    const labels: Record<string, string> = {};
    const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    let consumed = 0;
    for (let lm = labelRe.exec(labelText); lm; lm = labelRe.exec(labelText)) {
      labels[lm[1] ?? ''] = (lm[2] ?? '').replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
      consumed = labelRe.lastIndex;
    }
    assert.equal(consumed, labelText.length, `labels parse: ${labelText}`);
    const value = valueText === '+Inf' ? Infinity : Number(valueText);
    assert.ok(!Number.isNaN(value), `a number: ${valueText}`);
    const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
    assert.ok(family, `${name} belongs to a declared family`);
    assert.ok(current !== null && (name === current || name.startsWith(current + '_')), `${name} follows its family's TYPE`);
    family.samples.push({ name, labels, value });
  }
  for (const [name, f] of families) {
    assert.ok(f.type !== '', `${name} has a TYPE`);
    assert.ok(f.help !== '', `${name} has HELP text`);
    if (f.type === 'histogram') checkHistogram(name, f);
  }
  return families;
}

/** Buckets are cumulative, end with +Inf, and +Inf equals _count, for every label set. */
function checkHistogram(name: string, f: Family): void {
  const series = new Map<string, Sample[]>();
  for (const s of f.samples.filter((x) => x.name === `${name}_bucket`)) {
    const { le, ...rest } = s.labels;
    assert.ok(le !== undefined, 'a bucket has le');
    const key = JSON.stringify(rest);
    series.set(key, [...(series.get(key) ?? []), s]);
  }
  for (const [key, buckets] of series) {
    const les = buckets.map((b) => (b.labels.le === '+Inf' ? Infinity : Number(b.labels.le)));
    assert.deepEqual(les, [...les].sort((a, b) => a - b), 'buckets in order');
    assert.equal(les[les.length - 1], Infinity);
    for (let i = 1; i < buckets.length; i++) assert.ok((buckets[i]?.value ?? 0) >= (buckets[i - 1]?.value ?? 0), 'cumulative');
    const count = f.samples.find((s) => s.name === `${name}_count` && JSON.stringify(s.labels) === key);
    assert.equal(count?.value, buckets[buckets.length - 1]?.value, `${name}${key}: +Inf bucket = _count`);
    assert.ok(f.samples.some((s) => s.name === `${name}_sum` && JSON.stringify(s.labels) === key));
  }
}

function value(fams: Map<string, Family>, family: string, labels: Record<string, string> = {}, sample = family): number | undefined {
  return fams.get(family)?.samples.find((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('/metrics', () => {
  const dir = tempDir();
  const token = 'metrics-test-token-0123456789';
  let base = '';
  let client: KairosClient;
  const procs: ReturnType<typeof spawnCli>[] = [];

  before(async () => {
    writeProject(dir.path, {
      'kairos.yaml': `project: observed
pools:
  gpu: {}
jobs:
  ok:
    run: "echo fine"
  bad:
    run: "exit 4"
  waiting:
    run: "echo nobody serves this pool"
    pool: gpu
  ticking:
    run: "true"
    schedule: "* * * * * *"
`,
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    procs.push(spawnCli(['up', dir.path, '--port', String(port), '--data', join(dir.path, 'data'), '--concurrency', '0', '--token', token]));
    client = new KairosClient(base, token);
    await waitFor('the server', () => client.health(), 20_000);
    procs.push(spawnCli(['worker', '--server', base, '--token', token, '--id', 'metrics-worker', '--pool', 'default', '--data', join(dir.path, 'cache'), '--concurrency', '2']));
  });

  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        await exited(p.child);
      }
    }
    dir.cleanup();
  });

  test('needs the API token when the server has one', async () => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'unauthorized');
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  });

  test('runs by state, queue depth, workers, ticks and API latency match what happened', async () => {
    const ok1 = await client.createRun('ok', {});
    const ok2 = await client.createRun('ok', {});
    const bad = await client.createRun('bad', {});
    const waiting = await client.createRun('waiting', {});
    for (const r of [ok1, ok2, bad]) assert.notEqual((await client.getRun(r.id, 120)).state, 'queued');
    // A miss, for the latency histogram's status label, and a path no route knows.
    assert.equal((await fetch(`${base}/api/v1/runs/nope`, { headers: { authorization: `Bearer ${token}` } })).status, 404);
    assert.equal((await fetch(`${base}/api/v1/no-such-thing/123`, { headers: { authorization: `Bearer ${token}` } })).status, 404);

    // Ticks are read from the ledger a couple of seconds behind; wait until some are counted.
    const fams = await waitFor('ticks in the lateness histogram', async () => {
      const f = parseExposition(await client.metricsText());
      return (value(f, 'kairos_tick_lateness_seconds', {}, 'kairos_tick_lateness_seconds_count') ?? 0) > 0 ? f : null;
    }, 20_000);

    const runs = (await client.listRuns({ limit: 1000 })).runs;
    const count = (state: string) => runs.filter((r) => r.state === state).length;
    const gauge = (state: string) => value(fams, 'kairos_runs', { state });
    assert.equal(fams.get('kairos_runs')?.type, 'gauge');
    // The every-second job keeps running while we read; the runs started by hand have ended.
    assert.ok((gauge('succeeded') ?? 0) >= 2 && (gauge('succeeded') ?? 0) <= count('succeeded'), `succeeded: ${gauge('succeeded')} vs ${count('succeeded')}`);
    assert.equal(gauge('failed'), 1);
    assert.equal(gauge('failed'), count('failed'));
    assert.equal(gauge('cancelled'), 0, 'every state has a series, zero included');
    assert.equal(value(fams, 'kairos_queue_depth', { pool: 'gpu' }), 1, `the run ${waiting.id} waits in pool gpu`);
    assert.equal(value(fams, 'kairos_queue_due', { pool: 'gpu' }), 1);
    assert.ok(value(fams, 'kairos_queue_depth', { pool: 'default' }) !== undefined, 'a pool with an empty queue has a series');

    assert.equal(value(fams, 'kairos_workers_alive'), 1);
    const hb = value(fams, 'kairos_worker_last_heartbeat_seconds', { worker: 'metrics-worker' });
    assert.ok(hb !== undefined && Math.abs(hb - Date.now() / 1000) < 30, `heartbeat ${hb}`);

    assert.equal(fams.get('kairos_tick_lateness_seconds')?.type, 'histogram');
    assert.ok((value(fams, 'kairos_tick_lateness_seconds', { le: '+Inf' }, 'kairos_tick_lateness_seconds_bucket') ?? 0) > 0);

    const latency = fams.get('kairos_api_request_duration_seconds');
    assert.equal(latency?.type, 'histogram');
    const getRun = value(fams, 'kairos_api_request_duration_seconds', { method: 'GET', route: '/api/v1/runs/:id', status: '200' }, 'kairos_api_request_duration_seconds_count');
    assert.ok((getRun ?? 0) >= 3, `GET /api/v1/runs/:id 200 count ${getRun}`);
    assert.equal(value(fams, 'kairos_api_request_duration_seconds', { method: 'GET', route: '/api/v1/runs/:id', status: '404' }, 'kairos_api_request_duration_seconds_count'), 1);
    assert.ok((value(fams, 'kairos_api_request_duration_seconds', { method: 'POST', route: '/api/v1/runs', status: '201' }, 'kairos_api_request_duration_seconds_count') ?? 0) >= 4);
    assert.ok((value(fams, 'kairos_api_request_duration_seconds', { method: 'GET', route: '/metrics', status: '401' }, 'kairos_api_request_duration_seconds_count') ?? 0) >= 1, 'a refused scrape is counted under its route');
    assert.ok((value(fams, 'kairos_api_request_duration_seconds', { method: 'GET', route: 'unmatched', status: '404' }, 'kairos_api_request_duration_seconds_count') ?? 0) >= 1, 'unknown paths share one series');
    for (const s of latency?.samples ?? []) assert.ok(!s.labels.route?.includes(ok1.id), 'routes are patterns, never raw paths');

    assert.equal(value(fams, 'kairos_alerts_delivered_total'), 0);
    assert.equal(value(fams, 'kairos_alerts_failed_total'), 0);
  });
});
