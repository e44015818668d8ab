/**
 * Tokens and scopes against a real `kairos server` on loopback, through the CLI as a subprocess and raw
 * HTTP: create/list/revoke, each scope allowed or refused on representative routes (including the live log
 * stream and the worker protocol), a project-limited token that cannot tell another project's run from a
 * missing one, and tokens in the URL refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

describe('tokens and scopes', () => {
  const dir = tempDir();
  const BOOT = 'bootstrap-token-for-tests-0123456789';
  let port = 0;
  let server: ReturnType<typeof spawnCli>;
  const url = () => `http://127.0.0.1:${port}`;
  const tokens: Record<string, string> = {};
  const runs: Record<string, string> = {};

  const api = (method: string, path: string, token: string | null, body?: unknown) =>
    fetch(url() + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const status = async (method: string, path: string, token: string | null, body?: unknown) => {
    const res = await api(method, path, token, body);
    const json = (await res.json()) as { error?: { code: string; message: string } };
    return { status: res.status, code: json.error?.code ?? null, json };
  };
  const kairos = (args: string[], token: string | null = BOOT) => cli([...args, '--server', url(), ...(token ? ['--token', token] : [])], { env: { KAIROS_TOKEN: '' } });

  before(async () => {
    writeProject(dir.path, {
      'alpha/kairos.yaml': 'project: alpha\njobs:\n  hello:\n    run: echo alpha\n',
      'beta/kairos.yaml': 'project: beta\njobs:\n  hello:\n    run: echo beta\n',
    });
    port = await freePort();
    server = spawnCli(['server', '--data', join(dir.path, 'data'), '--port', String(port), '--token', BOOT]);
    await waitFor('the server', async () => (await fetch(url() + '/api/v1/health', { headers: { authorization: `Bearer ${BOOT}` } })).ok, 20_000);
    for (const p of ['alpha', 'beta']) {
      const r = await kairos(['deploy', join(dir.path, p)]);
      assert.equal(r.code, 0, r.stderr);
      const made = await status('POST', '/api/v1/runs', BOOT, { project: p, job: 'hello' });
      assert.equal(made.status, 201);
      runs[p] = (made.json as { id: string }).id;
    }
  });

  after(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await exited(server.child);
    }
    dir.cleanup();
  });

  test('a token is printed once at creation; the list never shows it', async () => {
    for (const [name, scope, project] of [
      ['reader', 'read', null],
      ['runner', 'run', null],
      ['deployer', 'deploy', null],
      ['admin2', 'admin', null],
      ['worker1', 'worker', null],
      ['beta-reader', 'read', 'beta'],
    ] as const) {
      const r = await kairos(['token', 'create', name, '--scope', scope, ...(project ? ['--project', project] : [])]);
      assert.equal(r.code, 0, r.stderr);
      tokens[name] = r.stdout.trim();
      assert.match(tokens[name] ?? '', /^kairos_[A-Za-z0-9_-]{43}$/);
    }
    const json = await kairos(['token', 'create', 'json-one', '--scope', 'read', '--json']);
    const made = JSON.parse(json.stdout) as { name: string; token: string; scope: string };
    assert.equal(made.scope, 'read');
    assert.match(made.token, /^kairos_/);

    const list = await kairos(['token', 'list']);
    assert.equal(list.code, 0, list.stderr);
    for (const name of ['reader', 'runner', 'deployer', 'beta-reader', 'json-one']) assert.match(list.stdout, new RegExp(`^${name}\\s`, 'm'));
    for (const t of [...Object.values(tokens), made.token]) assert.ok(!list.stdout.includes(t), 'a listing never shows a token');
    const listed = JSON.parse((await kairos(['token', 'list', '--json'])).stdout) as Record<string, unknown>[];
    assert.ok(listed.every((t) => !('token' in t) && !('hash' in t)));
    assert.deepEqual(listed.find((t) => t.name === 'beta-reader')?.project, 'beta');

    const dup = await kairos(['token', 'create', 'reader', '--scope', 'read']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /already exists/);
    const badScope = await kairos(['token', 'create', 'x', '--scope', 'root']);
    assert.equal(badScope.code, 2);
    assert.match(badScope.stderr, /scope must be one of read, run, deploy, admin, worker/);
  });

  test('each scope reaches what it includes and is refused the rest with 403 forbidden', async () => {
    const t = (n: string) => tokens[n] ?? '';
    const claim = (tok: string | null) => status('POST', '/api/v1/workers/w-test/claim', tok, { pools: ['nothing-here'], max: 1, wait_ms: 0 });
    // read
    assert.equal((await status('GET', '/api/v1/runs', t('reader'))).status, 200);
    assert.deepEqual(await status('POST', '/api/v1/runs', t('reader'), { project: 'alpha', job: 'hello' }).then((r) => [r.status, r.code]), [403, 'forbidden']);
    assert.deepEqual(await status('POST', `/api/v1/runs/${runs.alpha}/cancel`, t('reader')).then((r) => [r.status, r.code]), [403, 'forbidden']);
    // run
    const made = await status('POST', '/api/v1/runs', t('runner'), { project: 'alpha', job: 'hello' });
    assert.equal(made.status, 201);
    assert.equal((await status('POST', `/api/v1/runs/${(made.json as { id: string }).id}/cancel`, t('runner'))).status, 200);
    assert.deepEqual(await status('GET', '/api/v1/tokens', t('runner')).then((r) => [r.status, r.code]), [403, 'forbidden']);
    // deploy includes run and read, not admin
    assert.equal((await status('GET', '/api/v1/runs', t('deployer'))).status, 200);
    assert.deepEqual(await status('GET', '/api/v1/tokens', t('deployer')).then((r) => [r.status, r.code]), [403, 'forbidden']);
    assert.equal((await status('GET', '/api/v1/tokens', t('admin2'))).status, 200);
    // worker routes: the worker scope and admin only
    for (const n of ['reader', 'runner', 'deployer']) assert.deepEqual(await claim(t(n)).then((r) => [r.status, r.code]), [403, 'forbidden'], n);
    assert.equal((await claim(t('worker1'))).status, 200);
    assert.equal((await claim(t('admin2'))).status, 200);
    assert.deepEqual(await status('GET', '/api/v1/runs', t('worker1')).then((r) => [r.status, r.code]), [403, 'forbidden']);
    // the live log stream needs read: a worker token is refused, a read token streams
    assert.deepEqual(await status('GET', `/api/v1/runs/${runs.alpha}/logs/stream`, t('worker1')).then((r) => [r.status, r.code]), [403, 'forbidden']);
    const abort = new AbortController();
    const live = await fetch(`${url()}/api/v1/runs/${runs.alpha}/logs/stream`, { headers: { authorization: `Bearer ${t('reader')}` }, signal: abort.signal });
    assert.equal(live.status, 200);
    assert.match(live.headers.get('content-type') ?? '', /ndjson/);
    abort.abort();
    // no token, an unknown token: 401
    assert.deepEqual(await status('GET', '/api/v1/runs', null).then((r) => [r.status, r.code]), [401, 'unauthorized']);
    assert.deepEqual(await status('GET', '/api/v1/runs', 'kairos_not-a-real-token').then((r) => [r.status, r.code]), [401, 'unauthorized']);
    // the CLI: a read token lists runs, and is refused a run with exit 1 and the reason
    assert.equal((await kairos(['runs', '--json'], t('reader'))).code, 0);
    const refused = await kairos(['run', 'hello', '--project', 'alpha', '--detach'], t('reader'));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /scope read; POST \/api\/v1\/runs needs run/);
  });

  test("a project-limited token sees another project's run exactly as a run that does not exist", async () => {
    const tok = tokens['beta-reader'] ?? '';
    const other = await status('GET', `/api/v1/runs/${runs.alpha}`, tok);
    const missing = await status('GET', '/api/v1/runs/r000000000000nothere', tok);
    assert.equal(other.status, 404);
    assert.deepEqual(other.json, { error: { code: 'not_found', message: `run ${runs.alpha} not found` } });
    assert.deepEqual(Object.keys(other.json.error ?? {}), Object.keys(missing.json.error ?? {}));
    assert.equal(missing.json.error?.message, 'run r000000000000nothere not found');
    for (const sub of ['logs', 'logs/stream', 'attempts', 'outputs']) assert.equal((await status('GET', `/api/v1/runs/${runs.alpha}/${sub}`, tok)).status, 404, sub);
    assert.equal((await status('GET', `/api/v1/runs/${runs.beta}`, tok)).status, 200);
    const listed = (await status('GET', '/api/v1/runs', tok)).json as unknown as { runs: { project: string }[] };
    assert.ok(listed.runs.length > 0 && listed.runs.every((r) => r.project === 'beta'));
    assert.deepEqual(((await status('GET', '/api/v1/runs?project=alpha', tok)).json as unknown as { runs: unknown[] }).runs, []);
    const deps = (await status('GET', '/api/v1/deployments', tok)).json as unknown as { deployments: { project: string }[] };
    assert.deepEqual([...new Set(deps.deployments.map((d) => d.project))], ['beta']);
    assert.equal((await status('GET', '/api/v1/deployments/alpha/active', tok)).status, 404);
    // through the CLI
    const logs = await kairos(['logs', runs.alpha ?? ''], tok);
    // An unknown run is not bad usage: exit 1, as for a run that does not exist.
    assert.equal(logs.code, 1);
    assert.match(logs.stderr, new RegExp(`no run "${runs.alpha}"`));
  });

  test('a token in the URL is refused, even a valid one', async () => {
    const r = await fetch(`${url()}/api/v1/runs?token=${BOOT}`);
    assert.equal(r.status, 401);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'unauthorized');
    const both = await fetch(`${url()}/api/v1/runs?access_token=${tokens.reader}`, { headers: { authorization: `Bearer ${tokens.reader}` } });
    assert.equal(both.status, 401);
  });

  test('a revoked token is refused at once', async () => {
    assert.equal((await status('GET', '/api/v1/runs', tokens.runner ?? '')).status, 200);
    const r = await kairos(['token', 'revoke', 'runner']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await status('GET', '/api/v1/runs', tokens.runner ?? '').then((x) => [x.status, x.code]), [401, 'unauthorized']);
    assert.ok(!(await kairos(['token', 'list'])).stdout.includes('runner'));
    assert.equal((await kairos(['token', 'revoke', 'runner'])).code, 2);
  });
});

describe('bootstrap without a running server', () => {
  test('a token made on the data directory turns auth on; beyond loopback the server refuses to start without any', async () => {
    const dir = tempDir();
    try {
      const data = join(dir.path, 'data');
      const refused = await cli(['server', '--data', data, '--host', '0.0.0.0', '--port', '0'], { env: { KAIROS_TOKEN: '' } });
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /refusing to listen on 0\.0\.0\.0 without auth/);

      const made = await cli(['token', 'create', 'root', '--scope', 'admin', '--data', data], { env: { KAIROS_TOKEN: '' } });
      assert.equal(made.code, 0, made.stderr);
      const root = made.stdout.trim();
      const port = await freePort();
      const server = spawnCli(['server', '--data', data, '--port', String(port)], { env: { KAIROS_TOKEN: '' } });
      try {
        const base = `http://127.0.0.1:${port}`;
        await waitFor('the server', async () => (await fetch(base + '/api/v1/health', { headers: { authorization: `Bearer ${root}` } })).ok, 20_000);
        assert.equal((await fetch(base + '/api/v1/runs')).status, 401);
        const who = (await (await fetch(base + '/api/v1/whoami', { headers: { authorization: `Bearer ${root}` } })).json()) as { name: string; scope: string };
        assert.deepEqual(who, { name: 'root', scope: 'admin', project: null });
      } finally {
        server.child.kill('SIGTERM');
        await exited(server.child);
      }
    } finally {
      dir.cleanup();
    }
  });
});
