/**
 * NUL (and names with control characters) can never reach a process: they are refused before a run exists,
 * by `kairos validate` with file:line:col and by the API with a 4xx and a stable code. (Issue 21, item 4.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { cli, tempDir, waitFor, writeProject } from '../helpers.js';

const BAD = `project: nul
jobs:
  a:
    run: "echo \\0hi"
    env:
      X: "a\\0b"
    params:
      p:
        type: string
        default: "x\\0y"
  b:
    run: ["echo", "ok\\0"]
`;

test('kairos validate refuses NUL in run, argv, env and a param default, each at its file:line:col', async () => {
  const dir = tempDir();
  try {
    writeProject(dir.path, { 'kairos.yaml': BAD });
    const r = await cli(['validate', dir.path]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const text = r.stdout + r.stderr;
    for (const [where, path] of <[string, string][]>[['4:10', 'jobs.a.run'], ['6:10', 'jobs.a.env.X'], ['10:18', 'jobs.a.params.p.default'], ['12:19', 'jobs.b.run.1']]) {
      assert.match(text, new RegExp(`kairos\\.yaml:${where}: ${path.replace(/\./g, '\\.')}: contains a NUL character`), `${path} at ${where}:\n${text}`);
    }
  } finally {
    dir.cleanup();
  }
});

describe('the API refuses impossible values before a run exists', () => {
  const dir = tempDir();
  let up: Embedded;
  before(async () => {
    writeProject(dir.path, {
      'kairos.yaml': `project: nulapi
jobs:
  greet:
    run: 'echo "hello $KAIROS_PARAM_WHO"'
    params:
      who: {type: string, default: world}
`,
    });
    up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {} });
  });
  after(async () => {
    await up?.stop(0);
    dir.cleanup();
  });

  const post = async (body: unknown) => {
    const res = await fetch(`${up.url}/api/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string }; id?: string } };
  };
  const runCount = async () => Number((await up.engine.db.kysely.selectFrom('runs').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  test('a param value with NUL: 422 invalid_params, no run', async () => {
    const before = await runCount();
    const r = await post({ job: 'greet', params: { who: 'a\u0000b' } });
    assert.equal(r.status, 422);
    assert.equal(r.body.error?.code, 'invalid_params');
    assert.match(r.body.error?.message ?? '', /param "who": contains a NUL character/);
    assert.equal(await runCount(), before, 'no run was created');
  });

  test('a job or project name with NUL: 400 invalid_input, no run', async () => {
    const before = await runCount();
    for (const body of [{ job: 'greet\u0000' }, { job: 'greet', project: 'nulapi\u0000' }]) {
      const r = await post(body);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error?.code, 'invalid_input');
    }
    assert.equal(await runCount(), before, 'no run was created');
  });

  test('a deployment whose manifest holds NUL is refused with its problems (422 invalid_manifest via redeploy)', async () => {
    writeProject(dir.path, { 'kairos.yaml': BAD.replace('project: nul', 'project: nulapi') });
    const report = await up.redeploy();
    assert.equal(report.ok, false);
    if (!report.ok) assert.ok(report.problems.some((p) => p.path === 'jobs.a.env.X' && /NUL/.test(p.message)));
  });

  test('a good value still runs', async () => {
    const r = await post({ job: 'greet', params: { who: 'there' } });
    assert.equal(r.status, 201);
    await waitFor('the run to succeed', async () => (await (await fetch(`${up.url}/api/v1/runs/${r.body.id}`)).json() as { state: string }).state === 'succeeded', 30_000);
  });
});
