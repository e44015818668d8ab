/**
 * Service jobs through the relay (docs/services.md), on `kairos up` with auth: a tiny Python service is up
 * once its health path answers, is reachable at /services/<project>/<job>/ with a `run` token (never without
 * one, never with a `read` one), receives its own secret and none of Kairos's, is restarted by its retry
 * policy when it exits, is stopped by `idle_stop`, and answers 410 once its run has ended.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { API } from '../../src/api/contract/index.js';
import { ROOT, freePort, tempDir, waitFor, writeProject } from '../helpers.js';
import { chromiumMissing, openBrowser } from '../browser.js';

const BOOT = 'bootstrap-token-for-the-services-test-0123456789';

/** A raw GET (no URL normalisation, unlike fetch): status, headers and body. */
function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('service jobs through the relay', () => {
  const dir = tempDir('kairos-services-');
  let up: Embedded;
  let admin: KairosClient;
  const tokens: Record<string, string> = {};
  let webPort = 0;
  let idlePort = 0;
  const seen: string[] = [];

  before(async () => {
    webPort = await freePort();
    idlePort = await freePort();
    const script = readFileSync(join(ROOT, 'test', 'services', 'echo-service.py'), 'utf8');
    writeProject(dir.path, {
      'proj/echo.py': script,
      'proj/kairos.yaml': `project: shop
defaults:
  timeout: 1m
jobs:
  web:
    run: ["/usr/bin/python3", "echo.py"]
    service: {port: ${webPort}, health: /health}
    retries: {max: 1, delay: 0s}
  idle:
    run: ["/usr/bin/python3", "echo.py"]
    service: {port: ${idlePort}, health: /health, idle_stop: 2s}
`,
    });
    up = await startEmbedded({ projectDir: join(dir.path, 'proj'), dataDir: join(dir.path, 'data'), port: 0, watch: false, token: BOOT, log: () => {} });
    admin = new KairosClient(up.url, BOOT);
    for (const scope of ['read', 'run']) {
      const made = await admin.call(API.access.createToken, { body: { name: `t-${scope}`, scope } });
      tokens[scope] = made.token;
    }
  });
  after(async () => {
    await up?.stop(5000);
    dir.cleanup();
  });

  const get = async (path: string, headers: Record<string, string> = {}) => {
    const r = await rawGet(up.url, path, headers);
    seen.push(JSON.stringify(r.headers) + r.body);
    return r;
  };
  const bearer = (scope: string) => ({ authorization: `Bearer ${tokens[scope]}` });

  let runId = '';
  test('a service is up once its health path answers, and reachable only with a run token', { timeout: 120_000 }, async () => {
    const run = await admin.call(API.runs.create, { body: { job: 'web' } });
    runId = run.id;
    const timeout = (await admin.call(API.runs.get, { params: { id: run.id }, query: {} })) as { id: string };
    assert.ok(timeout.id);
    await waitFor('the service to be up', async () => (await admin.call(API.services.list, { query: {} })).services.find((s) => s.job === 'web' && s.state === 'up'), 60_000, 100);
    const listed = (await admin.call(API.services.list, { query: {} })).services.find((s) => s.job === 'web');
    assert.equal(listed?.path, '/services/shop/web/');
    assert.equal(listed?.run_id, run.id);

    assert.equal((await get('/services/shop/web/')).status, 401, 'no token');
    assert.equal((await get('/services/shop/web/', { authorization: 'Bearer kairos_wrong' })).status, 401, 'unknown token');
    assert.equal((await get('/services/shop/web/', bearer('read'))).status, 403, 'a read token');
    const ok = await get('/services/shop/web/a/b?x=1', { ...bearer('run'), cookie: 'theirs=1; kairos_service=abc' });
    assert.equal(ok.status, 200, ok.body);
    const echo = JSON.parse(ok.body) as { path: string; authorized: boolean; cookie: string | null; prefix: string };
    assert.deepEqual(echo, { path: '/services/shop/web/a/b?x=1', authorized: true, cookie: 'theirs=1', prefix: '/services/shop/web', attempt: '1' } as unknown as typeof echo);
    // Without the trailing slash: redirected under the service's path.
    const bare = await get('/services/shop/web', bearer('run'));
    assert.equal(bare.status, 308);
    assert.equal(bare.headers.location, '/services/shop/web/');

    // The run records when the service was up.
    const attempts = await admin.call(API.runs.attempts, { params: { id: run.id } });
    assert.ok(attempts.attempts[0]?.service_up_at, 'the attempt records when its service was up');
  });

  test('names are checked and no path climbs out of the service', async () => {
    for (const path of ['/services/shop/web/%2e%2e/x', '/services/shop/web/a/../../x', '/services/Shop!/web/', '/services/shop/we%2fb/', '/services/shop/web/a%2fb']) {
      const r = await get(path, bearer('run'));
      assert.equal(r.status, 404, `${path}: ${r.body}`);
    }
    assert.equal((await get('/services/shop/nothing/', bearer('run'))).status, 404);
  });

  test('a browser opens the service with a one-time ticket; the cookie never reaches the service', async () => {
    const made = await new KairosClient(up.url, tokens.run!).call(API.services.session, { params: { project: 'shop', job: 'web' }, body: {} });
    const first = await get(made.path);
    assert.equal(first.status, 303);
    assert.equal(first.headers.location, '/services/shop/web/');
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    assert.match(String(first.headers['set-cookie']), /HttpOnly; SameSite=Lax/);
    assert.match(String(first.headers['set-cookie']), /Path=\/services\/shop\/web\//);
    const again = await get(made.path);
    assert.equal(again.status, 401, 'a ticket is used once');
    const page = await get('/services/shop/web/page', { cookie });
    assert.equal(page.status, 200, page.body);
    assert.equal((JSON.parse(page.body) as { cookie: string | null }).cookie, null);
    assert.equal((await get('/services/shop/idle/page', { cookie })).status, 401, 'the session is for one service');
  });

  test('a service that exits is restarted by its retry policy', { timeout: 120_000 }, async () => {
    await get('/services/shop/web/exit', bearer('run'));
    await waitFor('the second attempt to be up', async () => {
      const r = await get('/services/shop/web/x', bearer('run'));
      return r.status === 200 && (JSON.parse(r.body) as { attempt: string }).attempt === '2';
    }, 60_000, 200);
    const run = await admin.call(API.runs.get, { params: { id: runId }, query: {} });
    assert.equal(run.state, 'running');
  });

  test('the dashboard lists the running service and opens it in a new tab, without the token in any URL', { skip: chromiumMissing() ?? false, timeout: 300_000 }, async () => {
    const b = await openBrowser();
    try {
      const urls: string[] = [];
      b.context.on('request', (r) => urls.push(r.url()));
      await b.page.goto(`${up.url}/running-services`);
      await b.page.locator('#token-dialog[open]').waitFor();
      await b.page.locator('#token-input').fill(tokens.run!);
      await b.page.keyboard.press('Enter');
      await b.page.locator('tr[data-service="shop/web"] button[data-open]').waitFor();
      const [tab] = await Promise.all([b.context.waitForEvent('page'), b.page.locator('tr[data-service="shop/web"] button[data-open]').click()]);
      await tab.waitForURL(`${up.url}/services/shop/web/`);
      const body = await tab.locator('body').innerText();
      assert.equal((JSON.parse(body) as { authorized: boolean }).authorized, true);
      assert.ok(urls.every((u) => !u.includes(tokens.run!)), 'the token never appears in a URL');
    } finally {
      await b.close();
    }
  });

  test('cancelling the run stops the service: its path answers 410', { timeout: 120_000 }, async () => {
    await admin.call(API.runs.cancel, { params: { id: runId } });
    await waitFor('the run to end', async () => (await admin.call(API.runs.get, { params: { id: runId }, query: {} })).state === 'cancelled', 60_000, 100);
    const r = await get('/services/shop/web/', bearer('run'));
    assert.equal(r.status, 410, r.body);
  });

  test('idle_stop stops a service nobody used', { timeout: 120_000 }, async () => {
    const run = await admin.call(API.runs.create, { body: { job: 'idle' } });
    await waitFor('the idle service to be up', async () => (await get('/services/shop/idle/', bearer('run'))).status === 200, 60_000, 100);
    const ended = await waitFor('the idle service to stop', async () => {
      const r = await admin.call(API.runs.get, { params: { id: run.id }, query: {} });
      return r.state === 'cancelled' ? r : null;
    }, 60_000, 200);
    assert.match(ended.reason ?? '', /idle: nobody used the service for 2s/);
  });

  test("the service's secret never reaches a client or the log", async () => {
    const logs = await admin.call(API.runs.logs, { params: { id: runId }, query: {} });
    const line = logs.lines.map((l) => l.line).find((l) => l.startsWith('serving on'));
    assert.ok(line, 'the service printed its token');
    assert.match(line, /token \*+|token \[masked\]|token \S+/);
    const printed = /token (\S+)/.exec(line)?.[1] ?? '';
    assert.ok(!/^[A-Za-z0-9_-]{32}$/.test(printed), `the token is masked in the log (${printed})`);
    assert.ok(seen.length > 5);
  });
});
