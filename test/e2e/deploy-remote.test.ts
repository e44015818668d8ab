/**
 * `kairos deploy` from a directory other than the server's, against a real `kairos server` on loopback:
 * plan, activation with who/when/commit, rollback, scopes, and crafted bundles that the server refuses
 * without writing anything outside its staging folder or activating anything.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleHashLine } from '../../src/bundle/bundle.js';
import { cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

interface Entry {
  path: string;
  kind: 'file' | 'symlink';
  mode: number;
  size: number;
  sha256: string;
  target?: string;
  data?: Buffer;
}

const file = (path: string, content: string | Buffer): Entry => {
  const data = Buffer.from(content);
  return { path, kind: 'file', mode: 0o644, size: data.length, sha256: createHash('sha256').update(data).digest('hex'), data };
};
const link = (path: string, target: string): Entry => ({ path, kind: 'symlink', mode: 0o777, size: 0, sha256: createHash('sha256').update(target).digest('hex'), target });

/** A bundle stream as `kairos deploy` sends it, from entries that may be hostile. */
function craft(entries: Entry[]): { hash: string; body: Buffer } {
  const h = createHash('sha256');
  const parts: Buffer[] = [];
  for (const e of entries) {
    h.update(bundleHashLine(e));
    const { data, ...head } = e;
    parts.push(Buffer.from(JSON.stringify(head) + '\n'));
    if (data) parts.push(data);
  }
  return { hash: h.digest('hex'), body: Buffer.concat(parts) };
}

/** Every path under `root` (files, folders, links), relative. */
function tree(root: string): string[] {
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(join(d, e.name), r);
    }
  };
  walk(root, '');
  return out.sort();
}

const V1 = `project: shop
jobs:
  report:
    run: ["python3", "report.py"]
    schedule: "0 6 * * *"
    params:
      region: {type: string, default: eu}
  cleanup:
    run: echo cleanup
    schedule: {cron: "30 1 * * *", timezone: Europe/Berlin}
`;
const V2 = `project: shop
jobs:
  report:
    run: ["python3", "report.py"]
    schedule: {cron: "0 7 * * 1-5", timezone: America/New_York}
    params:
      region: {type: string, default: us, enum: [us, eu]}
      days: {type: integer, default: 7}
    resources: {cpu: 2, memory: 1Gi}
    secrets: [WAREHOUSE_PASSWORD]
  train:
    run: echo train
`;

describe('kairos deploy from anywhere', () => {
  const dir = tempDir();
  const data = join(dir.path, 'server-data');
  const proj = join(dir.path, 'elsewhere', 'shop');
  let port = 0;
  let server: ReturnType<typeof spawnCli>;
  const url = () => `http://127.0.0.1:${port}`;
  const tok: Record<string, string> = {};
  const kairos = (args: string[], token: string | undefined, cwd?: string) => cli([...args, '--server', url(), ...(token ? ['--token', token] : [])], { env: { KAIROS_TOKEN: '' }, cwd: cwd ?? dir.path });
  const deployments = async () => JSON.parse((await kairos(['deployments', '--json'], tok.admin)).stdout) as { version: number; active: boolean; deployed_by: string; git_commit: string | null; git_dirty: boolean | null; bundle_hash: string }[];
  const upload = async (c: { hash: string; body: Buffer }, token = tok.deployer) => {
    const res = await fetch(`${url()}/api/v1/deployments?hash=${c.hash}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-kairos-bundle' }, body: c.body });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string; details?: { reason?: string } } } };
  };

  before(async () => {
    writeProject(proj, { 'kairos.yaml': V1, 'report.py': 'print("report")\n', '.gitignore': 'scratch/\n', 'scratch/big.bin': 'ignored\n' });
    const git = (...args: string[]) => execFileSync('git', ['-C', proj, '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { stdio: 'pipe' });
    git('init', '-q');
    git('add', '-A');
    git('commit', '-q', '-m', 'v1');
    for (const [name, scope] of [['admin', 'admin'], ['deployer', 'deploy'], ['reader', 'read'], ['worker', 'worker']] as const) {
      const r = await cli(['token', 'create', name, '--scope', scope, '--data', data], { env: { KAIROS_TOKEN: '' } });
      assert.equal(r.code, 0, r.stderr);
      tok[name] = r.stdout.trim();
    }
    port = await freePort();
    server = spawnCli(['server', '--data', data, '--port', String(port)], { env: { KAIROS_TOKEN: '', KAIROS_BUNDLE_MAX_FILES: '20', KAIROS_BUNDLE_MAX_BYTES: '4096' }, cwd: data });
    await waitFor('the server', async () => (await fetch(url() + '/api/v1/health', { headers: { authorization: `Bearer ${tok.admin}` } })).ok, 20_000);
  });

  after(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await exited(server.child);
    }
    dir.cleanup();
  });

  test('a first deploy with a deploy token: plan, then a new version recorded with who and which commit', async () => {
    const plan = await kairos(['deploy', proj, '--plan', '--json'], tok.deployer);
    assert.equal(plan.code, 0, plan.stderr);
    const p = (JSON.parse(plan.stdout) as { plan: { active_version: null; jobs_added: string[]; schedule_changes: { job: string; next: string[] }[] } }).plan;
    assert.equal(p.active_version, null);
    assert.deepEqual(p.jobs_added, ['cleanup', 'report']);
    assert.equal(p.schedule_changes.find((s) => s.job === 'report')?.next.length, 3);
    assert.equal((await deployments()).length, 0, '--plan activates nothing');

    const r = await kairos(['deploy', proj], tok.deployer, join(dir.path, 'elsewhere'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\+ job report/);
    assert.match(r.stdout, /deployed shop v1 \([0-9a-f]{12}\) by deployer from [0-9a-f]{12}\n/);
    const head = execFileSync('git', ['-C', proj, 'rev-parse', 'HEAD']).toString().trim();
    const [v1] = await deployments();
    assert.deepEqual([v1?.version, v1?.active, v1?.deployed_by, v1?.git_commit, v1?.git_dirty], [1, true, 'deployer', head, false]);
    // .gitignore is honoured: the ignored folder never reached the server.
    assert.ok(existsSync(join(data, 'bundles', v1?.bundle_hash ?? '', 'report.py')));
    assert.ok(!existsSync(join(data, 'bundles', v1?.bundle_hash ?? '', 'scratch')));
  });

  test('the plan of a change: jobs added and removed, schedule with next fire times, params, resources, secrets', async () => {
    writeFileSync(join(proj, 'kairos.yaml'), V2);
    const text = await kairos(['deploy', proj, '--plan'], tok.deployer);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /compared with active v1/);
    assert.match(text.stdout, /^ {2}\+ job train$/m);
    assert.match(text.stdout, /^ {2}- job cleanup$/m);
    assert.match(text.stdout, /schedule report: "0 6 \* \* \*" UTC -> "0 7 \* \* 1-5" America\/New_York\n {6}next: \d{4}-\d\d-\d\dT1[12]:00:00\.000Z/);
    assert.match(text.stdout, /schedule cleanup: "30 1 \* \* \*" Europe\/Berlin -> none/);
    assert.match(text.stdout, /param report\.region: string, default "eu" -> string, default "us", one of "us"\|"eu"/);
    assert.match(text.stdout, /param report\.days: none -> integer, default 7/);
    assert.match(text.stdout, /resources report: none -> cpu 2, memory 1073741824 bytes/);
    // The job names a secret the project does not have yet.
    assert.match(text.stdout, /secrets referenced but not set: WAREHOUSE_PASSWORD$/m);
    const json = JSON.parse((await kairos(['deploy', proj, '--plan', '--json'], tok.deployer)).stdout) as { plan: { jobs_removed: string[]; secrets_missing: string[] | null; param_changes: unknown[]; resource_changes: unknown[]; schedule_changes: { job: string; next: string[] }[] } };
    assert.deepEqual(json.plan.jobs_removed, ['cleanup']);
    assert.deepEqual(json.plan.secrets_missing, ['WAREHOUSE_PASSWORD']);
    // Once set, the plan no longer warns.
    const set = await cli(['secret', 'set', 'WAREHOUSE_PASSWORD', '--project', 'shop', '--server', url(), '--token', tok.deployer ?? ''], { env: { KAIROS_TOKEN: '' }, input: 'hunter2-long-enough\n' });
    assert.equal(set.code, 0, set.stderr);
    const again = await kairos(['deploy', proj, '--plan'], tok.deployer);
    assert.doesNotMatch(again.stdout, /secrets referenced but not set/);
    assert.equal((await kairos(['secret', 'delete', 'WAREHOUSE_PASSWORD', '--project', 'shop'], tok.deployer)).code, 0);
    assert.equal(json.plan.param_changes.length, 2);
    assert.equal(json.plan.resource_changes.length, 1);
    for (const at of json.plan.schedule_changes.find((s) => s.job === 'report')?.next ?? []) assert.ok([1, 2, 3, 4, 5].includes(new Date(at).getUTCDay() === 0 ? 7 : new Date(at).getUTCDay()));
    assert.equal((await deployments()).length, 1);
  });

  test('deploy v2 from a dirty checkout, then roll back to v1: schedules follow the manifest of each version', async () => {
    // The checks run first: a secret the new version needs is not set, so nothing is deployed.
    const refused = await kairos(['deploy', proj], tok.deployer);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stdout, /WAREHOUSE_PASSWORD/);
    assert.match(refused.stderr, /checks failed; nothing was deployed \(--force deploys anyway\)/);
    assert.equal((await deployments()).length, 1);
    const r = await kairos(['deploy', proj, '--json', '--force'], tok.deployer);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { deployment: { version: number; git_dirty: boolean; created: boolean } };
    assert.deepEqual([out.deployment.version, out.deployment.git_dirty, out.deployment.created], [2, true, true]);
    const sched = async () => (JSON.parse((await kairos(['schedules', '--json'], tok.reader)).stdout) as { job: string; cron: string; timezone: string }[]).map((s) => `${s.job} ${s.cron} ${s.timezone}`).sort();
    assert.deepEqual(await sched(), ['report 0 7 * * 1-5 America/New_York']);
    const table = await kairos(['deployments'], tok.reader);
    assert.match(table.stdout, /shop\s+v2\s+[0-9a-f]{12}\s+deployer\s+\S+ \S+\s+[0-9a-f]{12}\+dirty\s+active/);

    const denied = await kairos(['rollback', '1'], tok.reader);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /needs deploy/);
    const back = await kairos(['rollback', '1', '--project', 'shop'], tok.deployer);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /shop v1 \([0-9a-f]{12}\) is active/);
    assert.deepEqual(await sched(), ['cleanup 30 1 * * * Europe/Berlin', 'report 0 6 * * * UTC']);
    assert.deepEqual((await deployments()).map((d) => [d.version, d.active]), [[2, false], [1, true]]);
    assert.equal((await kairos(['rollback', '9'], tok.deployer)).code, 2);
  });

  test('a remote worker with a worker token runs a job of the uploaded version', async () => {
    const worker = spawnCli(['worker', '--server', url(), '--token', tok.worker ?? '', '--id', 'w1', '--data', join(dir.path, 'worker-cache'), '--concurrency', '1', '--grace', '1'], { env: { KAIROS_TOKEN: '' } });
    try {
      const r = await kairos(['run', 'cleanup', '--project', 'shop'], tok.deployer);
      assert.equal(r.code, 0, r.stderr + worker.output());
      assert.match(r.stdout, /^cleanup$/m);
      // The worker token cannot read runs: it only speaks the worker protocol.
      assert.equal((await kairos(['runs'], tok.worker)).code, 1);
    } finally {
      worker.child.kill('SIGTERM');
      await exited(worker.child);
    }
  });

  test('a read token is refused a deploy (403) and nothing is written', async () => {
    const before = tree(data);
    const r = await kairos(['deploy', proj], tok.reader);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /token "reader" has scope read; POST \/api\/v1\/deployments needs deploy/);
    assert.equal((await deployments()).length, 2);
    assert.deepEqual(tree(data).filter((p) => !p.startsWith('kairos.db')), before.filter((p) => !p.startsWith('kairos.db')));

    // A deploy token limited to another project may not deploy this one.
    const other = await kairos(['token', 'create', 'other-ci', '--scope', 'deploy', '--project', 'other'], tok.admin);
    const refused = await kairos(['deploy', proj], other.stdout.trim());
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /limited to project other; this bundle is project shop/);
    assert.equal((await deployments()).length, 2);
    assert.deepEqual(tree(join(data, 'uploads')), []);
  });

  test('a manifest that does not validate is refused before upload (exit 2, file:line:col) and by the server', async () => {
    writeFileSync(join(proj, 'kairos.yaml'), 'project: shop\njobs:\n  report:\n    run: echo\n    retries: three\n');
    const r = await kairos(['deploy', proj], tok.deployer);
    assert.equal(r.code, 2);
    assert.match(r.stdout, /kairos\.yaml:5:14: jobs\.report\.retries: /);
    assert.match(r.stderr, /nothing was deployed/);
    // The same manifest sent past the client's check: the server compiles it too and activates nothing.
    const bundlesBefore = tree(join(data, 'bundles'));
    const res = await upload(craft([file('kairos.yaml', 'project: shop\njobs:\n  report:\n    run: echo\n    retries: three\n')]));
    assert.equal(res.status, 422);
    assert.equal(res.body.error?.code, 'invalid_manifest');
    assert.deepEqual((await deployments()).map((d) => [d.version, d.active]), [[2, false], [1, true]]);
    assert.deepEqual(tree(join(data, 'bundles')), bundlesBefore);
    writeFileSync(join(proj, 'kairos.yaml'), V1);
  });

  test('crafted bundles are refused with a stable code; nothing lands outside the staging folder, nothing is activated', async () => {
    const ok = file('kairos.yaml', 'project: shop\njobs:\n  x:\n    run: echo\n');
    const outside = join(dir.path, 'pwned');
    const cases: [string, Entry[], string][] = [
      ['a ../ path', [ok, file('../../../../pwned', 'x')], 'unsafe_path'],
      ['a nested ../ path', [ok, file('a/../../pwned', 'x')], 'unsafe_path'],
      ['an absolute path', [ok, file(outside, 'x')], 'unsafe_path'],
      ['a link to an absolute path', [ok, link('evil', outside)], 'link_outside'],
      ['a link climbing out', [ok, link('sub/evil', '../../../../../pwned')], 'link_outside'],
      ['a file written through a link', [ok, link('d', '.'), link('e', 'd/..'), file('e/pwned', 'x')], 'unsafe_path'],
      ['links that look inside but lead out', [ok, link('d', '.'), link('e', 'd/..')], 'link_outside'],
      ['too many files', [ok, ...Array.from({ length: 20 }, (_, i) => file(`f${i}.txt`, 'x'))], 'too_many_files'],
      ['too many bytes', [ok, file('big.bin', Buffer.alloc(5000, 1))], 'too_large'],
    ];
    const bundlesBefore = tree(join(data, 'bundles'));
    for (const [what, entries, reason] of cases) {
      const res = await upload(craft(entries));
      assert.equal(res.status, 400, what);
      assert.equal(res.body.error?.code, 'invalid_bundle', what);
      assert.equal(res.body.error?.details?.reason, reason, `${what}: ${res.body.error?.message}`);
    }
    // A file whose bytes do not match its checksum.
    const bad = craft([ok, file('data.txt', 'good')]);
    const tampered = { hash: bad.hash, body: Buffer.from(bad.body.toString().replace(/good$/, 'evil')) };
    assert.equal((await upload(tampered)).body.error?.details?.reason, 'corrupt');

    assert.ok(!existsSync(outside), 'nothing was written outside');
    for (const p of tree(dir.path)) assert.ok(!p.endsWith('pwned'), `found ${p}`);
    assert.deepEqual(tree(join(data, 'uploads')), [], 'staging folders are removed');
    assert.deepEqual(tree(join(data, 'bundles')), bundlesBefore);
    assert.deepEqual((await deployments()).map((d) => [d.version, d.active]), [[2, false], [1, true]]);

    // The same limits let a well-formed small bundle through.
    const good = await upload(craft([ok, link('latest', 'kairos.yaml')]));
    assert.equal(good.status, 201, JSON.stringify(good.body));
    rmSync(outside, { force: true });
  });
});
