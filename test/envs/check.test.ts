/**
 * `kairos check` as a user runs it: the CLI as a subprocess, a real `kairos up` server, real pip resolving
 * against a package index on loopback, the project's real tests.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { runChecks, type CheckReport } from '../../src/check/index.js';
import { KairosClient } from '../../src/api/client.js';
import { cli, freePort, ROOT, tempDir, writeProject } from '../helpers.js';
import { startIndex, SYSTEM_PYTHON, type PackageIndex } from './package-index.js';

/**
 * A real server with the secrets route stood in: GET /api/v1/secrets is being added in a parallel branch, so
 * this proxy answers it (names only, as that API does) and passes everything else to the real server.
 */
async function withSecretsRoute(target: string, names: readonly string[] | null): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/api/v1/secrets') && names === null) {
      // A server from before the secrets API: Kairos' own answer for a route it does not have.
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'no route for GET /api/v1/secrets' } }));
      return;
    }
    if (req.url?.startsWith('/api/v1/secrets') && names !== null) {
      const project = new URL(req.url, 'http://x').searchParams.get('project');
      res.writeHead(200, { 'content-type': 'application/json' });
      const now = new Date().toISOString();
      res.end(JSON.stringify({ secrets: names.map((name) => ({ project, name, created_at: now, updated_at: now, key_id: 'stand-in' })) }));
      return;
    }
    const up = request(target + (req.url ?? '/'), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

describe('kairos check', () => {
  const dir = tempDir('kairos-check-');
  let index: PackageIndex;
  let up: Embedded;

  before(async () => {
    index = await startIndex([{ name: 'tinypkg', version: '1.0' }]);
    writeProject(join(dir.path, 'server'), { 'kairos.yaml': 'project: other\njobs:\n  a: {run: "true"}\n' });
    up = await startEmbedded({ projectDir: join(dir.path, 'server'), dataDir: join(dir.path, 'server-data'), port: 0, watch: false, log: () => {} });
  });
  after(async () => {
    await up?.stop(5000);
    await index.close();
    dir.cleanup();
  });

  test('the example project passes, with one line per check', async () => {
    const unreachable = `http://127.0.0.1:${await freePort()}`;
    const r = await cli(['check', join(ROOT, 'examples', 'quickstart'), '--data', join(dir.path, 'qs-data')], { timeoutMs: 180_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const line of [/^ok +configuration +manifest +project quickstart, 9 jobs/m, /^ok +configuration +schedule check-freshness /m, /^ok +dependencies +requirements analysis/m, /^ok +code +test +passed/m, /^ok +code +check train +passed/m]) {
      assert.match(r.stdout, line);
    }
    // Not a terminal: no colour codes.
    // eslint-disable-next-line no-control-regex -- terminal escapes are what this looks for
    assert.doesNotMatch(r.stdout, /\x1b\[/);
    // A server that was not asked for is skipped, not failed; one named with --server that is down fails.
    const named = await cli(['check', join(ROOT, 'examples', 'quickstart'), '--data', join(dir.path, 'qs-data'), '--skip', 'dependencies,code', '--server', unreachable]);
    assert.equal(named.code, 1);
    assert.match(named.stdout, new RegExp(`^FAIL +configuration +server +server ${unreachable} not reachable`, 'm'));
  });

  test('a copy with a failing test, a missing requirement and a missing secret fails and names all three', async () => {
    const copy = join(dir.path, 'broken-copy');
    cpSync(join(ROOT, 'examples', 'quickstart'), copy, { recursive: true, filter: (src) => !src.includes('.kairos') });
    const yaml = readFileSync(join(copy, 'kairos.yaml'), 'utf8')
      .replace('    system_site_packages: true\n', `    system_site_packages: true\n    index_urls: [${index.url}]\n`)
      .replace('    run: python3 scripts/nightly_report.py\n', '    run: python3 scripts/nightly_report.py\n    secrets: [WAREHOUSE_TOKEN, REPORT_SMTP]\n');
    writeFileSync(join(copy, 'kairos.yaml'), yaml);
    writeFileSync(join(copy, 'requirements.txt'), 'tinypkg==1.0\nnopenope>=2\nghost-package\n');
    writeFileSync(join(copy, 'tests', 'test_broken.py'), 'import unittest\n\nclass T(unittest.TestCase):\n    def test_sum(self):\n        self.assertEqual(1 + 1, 3, "arithmetic is off")\n');
    const proxy = await withSecretsRoute(up.url, ['REPORT_SMTP']);
    try {
      const r = await cli(['check', copy, '--server', proxy.url, '--data', join(dir.path, 'copy-data')], { timeoutMs: 180_000 });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /^FAIL +configuration +secret WAREHOUSE_TOKEN +secret WAREHOUSE_TOKEN is missing on .* \(needed by job nightly-report\)/m);
      assert.match(r.stdout, /^ok +configuration +secret REPORT_SMTP/m);
      const idx = index.url.replaceAll('/', '\\/').replaceAll('.', '\\.');
      assert.match(r.stdout, new RegExp(`^FAIL +dependencies +requirements analysis +requirement "nopenope" not found on ${idx}$`, 'm'));
      assert.match(r.stdout, new RegExp(`^FAIL +dependencies +requirements analysis +requirement "ghost-package" not found on ${idx}$`, 'm'));
      // The code could not run in an environment whose requirements do not resolve.
      assert.match(r.stdout, /^skip +code +test +skipped: the requirements of environment analysis do not resolve/m);
      // No live worker serves the pool `default` of this project on that server? It has the local worker: ok.
      assert.match(r.stdout, /^ok +configuration +pool default +1 live worker/m);
      assert.match(r.stdout, /checks failed: \d+ ok, 3 failed/);

      // With the requirements fixed, the failing test is what is left, with its output.
      writeFileSync(join(copy, 'requirements.txt'), 'tinypkg==1.0\n');
      const json = await cli(['check', copy, '--server', proxy.url, '--data', join(dir.path, 'copy-data'), '--json'], { timeoutMs: 180_000 });
      assert.equal(json.code, 1);
      const report = JSON.parse(json.stdout) as CheckReport;
      const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
      assert.deepEqual(failed, ['secret WAREHOUSE_TOKEN', 'test']);
      const t = report.checks.find((c) => c.name === 'test');
      assert.match(t?.details?.join('\n') ?? '', /arithmetic is off/);
      assert.ok(report.checks.some((c) => c.name === 'requirements analysis' && c.status === 'pass' && c.details?.includes('tinypkg==1.0')));
    } finally {
      await proxy.close();
    }
  });

  test('a server without the secrets API (stood in) says the secrets could not be checked; a pool with no live worker is a warning', async () => {
    const project = join(dir.path, 'pools');
    writeProject(project, { 'kairos.yaml': 'project: pools\npools:\n  gpu: {}\njobs:\n  a: {run: "true", pool: gpu, secrets: [API_KEY]}\n' });
    const proxy = await withSecretsRoute(up.url, null);
    const client = new KairosClient(proxy.url);
    try {
      const report = await runChecks(project, { server: { client, explicit: true }, skip: ['code'] });
      const byName = new Map(report.checks.map((c) => [c.name, c]));
      assert.equal(byName.get('secrets')?.status, 'skip');
      assert.match(byName.get('secrets')?.message ?? '', /secrets could not be checked/);
      assert.equal(byName.get('pool gpu')?.status, 'warn');
      assert.equal(report.ok, true);
    } finally {
      client.close();
      await proxy.close();
    }
  });

  test('an invalid manifest is reported with its position and exits 2', async () => {
    const project = join(dir.path, 'invalid');
    writeProject(project, { 'kairos.yaml': `project: bad\nenvironments:\n  py: {python: "${SYSTEM_PYTHON}", node: package.json}\njobs:\n  a: {run: "true", environment: nope}\n` });
    const r = await cli(['check', project]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAIL +configuration +manifest +2 problems/m);
    assert.match(r.stdout, /kairos\.yaml:3:\d+: environments\.py\.node: an environment is one kind/);
    assert.match(r.stdout, /kairos\.yaml:5:\d+: jobs\.a\.environment: unknown environment "nope"/);
  });
});
