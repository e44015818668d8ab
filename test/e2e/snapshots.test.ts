/**
 * Data snapshots and inputs end to end (docs/snapshots.md): `kairos snapshot push` of a file and of a folder,
 * the same content again is the same version and uploads nothing; a job reads a snapshot and an earlier run's
 * artifact through `inputs` and prints their SHA-256s itself; after a new version is pushed, `rerun` of the
 * old run reads the old bytes, while a new run reads the new ones; each attempt records what it read.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { cli, exited, spawnCli, tempDir, writeProject } from '../helpers.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const MANIFEST = `
project: snaps
pools:
  remote: {}
jobs:
  produce:
    run: "printf 'model-weights-%s' \\"$KAIROS_PARAM_TAG\\" > $KAIROS_ARTIFACTS/model.bin; mkdir -p $KAIROS_ARTIFACTS/report && echo one > $KAIROS_ARTIFACTS/report/a.txt"
    params:
      tag: {type: string, default: v1}
  consume:
    run: "sha256sum $KAIROS_INPUTS/sales $KAIROS_INPUTS/model $KAIROS_INPUTS/tables/t1.csv $KAIROS_INPUTS/tables/sub/t2.csv | sed \\"s#$KAIROS_INPUTS/##\\"; cat $KAIROS_INPUTS/report/a.txt"
    inputs:
      sales: sales@latest
      tables: tables@latest
      model: run:produce@latest/model.bin
      report: run:produce@latest/report
  remote:
    run: "sha256sum $KAIROS_INPUTS/sales $KAIROS_INPUTS/model | sed \\"s#$KAIROS_INPUTS/##\\""
    pool: remote
    inputs:
      sales: sales@latest
      model: run:produce@latest/model.bin
  missing:
    run: "echo never"
    inputs:
      nothing: nosuch@latest
`;

describe('snapshots and inputs', () => {
  const dir = tempDir();
  let up: Embedded;
  let client: KairosClient;
  const server = () => ['--server', up.url];

  before(async () => {
    writeProject(dir.path, { 'kairos.yaml': MANIFEST });
    up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {}, sandbox: { mode: 'auto', bind: [dir.path] } });
    client = new KairosClient(up.url);
  });

  after(async () => {
    await up.stop(5000);
    dir.cleanup();
  });

  /** The job's own output: `HASH  NAME` lines, by name. */
  async function hashesPrinted(runId: string): Promise<Record<string, string>> {
    const { lines } = await client.logs(runId);
    const out: Record<string, string> = {};
    for (const l of lines) {
      const m = /^([0-9a-f]{64})\s+(\S+)$/.exec(l.line);
      if (m) out[m[2] ?? ''] = m[1] ?? '';
    }
    return out;
  }

  test('push a file and a folder; the same content again is the same version and uploads nothing', async () => {
    const v1 = join(dir.path, 'sales-v1.csv');
    writeFileSync(v1, 'region,amount\nnorth,1\n');
    const first = await cli(['snapshot', 'push', 'sales', v1, '--json', ...server()]);
    assert.equal(first.code, 0, first.stderr);
    const a = JSON.parse(first.stdout) as { version: string; created: boolean; kind: string; uploaded_files: number };
    assert.equal(a.created, true);
    assert.equal(a.kind, 'file');
    assert.equal(a.uploaded_files, 1);
    const again = await cli(['snapshot', 'push', 'sales', v1, '--json', ...server()]);
    const b = JSON.parse(again.stdout) as { version: string; created: boolean; uploaded_files: number };
    assert.equal(b.version, a.version);
    assert.equal(b.created, false);
    assert.equal(b.uploaded_files, 0);

    const tables = join(dir.path, 'tables');
    mkdirSync(join(tables, 'sub'), { recursive: true });
    writeFileSync(join(tables, 't1.csv'), 'a\n1\n');
    writeFileSync(join(tables, 'sub', 't2.csv'), 'b\n2\n');
    const folder = await cli(['snapshot', 'push', 'tables', tables, ...server()]);
    assert.equal(folder.code, 0, folder.stderr);
    assert.match(folder.stderr, /created \(2 files/);

    const list = await cli(['snapshot', 'list', '--json', ...server()]);
    const rows = JSON.parse(list.stdout) as { name: string; version: string; latest: boolean; project: string }[];
    assert.deepEqual(rows.map((r) => [r.project, r.name, r.latest]), [['snaps', 'sales', true], ['snaps', 'tables', true]]);
    const table = await cli(['snapshot', 'list', 'sales', ...server()]);
    assert.match(table.stdout, new RegExp(`snaps\\s+sales\\s+${a.version.slice(0, 12)}\\s+file\\s+1`));
  });

  test('bad usage exits 2: an unsafe name, a missing path', async () => {
    assert.equal((await cli(['snapshot', 'push', '../etc', dir.path, ...server()])).code, 2);
    assert.equal((await cli(['snapshot', 'push', 'ok', join(dir.path, 'no-such-file'), ...server()])).code, 2);
    assert.equal((await cli(['snapshot', 'frobnicate', ...server()])).code, 2);
  });

  test('a job reads a snapshot and an earlier run\'s artifact; a rerun reads the same bytes after latest moved', async () => {
    const produced = await client.getRun((await client.createRun('produce', { tag: 'v1' })).id, 60);
    assert.equal(produced.state, 'succeeded', `${produced.reason ?? ''}\n${(await client.logs(produced.id)).lines.map((l) => l.line).join('\n')}`);

    const r = await cli(['run', 'consume', ...server()]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const first = (await client.listRuns({ job: 'consume', limit: 1 })).runs[0];
    assert.ok(first);
    const seen = await hashesPrinted(first.id);
    assert.equal(seen.sales, sha('region,amount\nnorth,1\n'));
    assert.equal(seen.model, sha('model-weights-v1'));
    assert.equal(seen['tables/t1.csv'], sha('a\n1\n'));
    assert.equal(seen['tables/sub/t2.csv'], sha('b\n2\n'));
    assert.match(r.stdout, /^one$/m);

    // What the attempt read is recorded: the pin (attempt 0) and attempt 1, the same versions.
    const { inputs } = await client.runInputs(first.id);
    const sales = inputs.filter((i) => i.name === 'sales');
    assert.deepEqual(sales.map((i) => i.attempt), [0, 1]);
    assert.equal(new Set(sales.map((i) => i.resolved)).size, 1);
    assert.equal(inputs.find((i) => i.name === 'model' && i.attempt === 1)?.resolved, produced.id);

    // latest moves: a new version of the snapshot, a newer run of the producer.
    const v2 = join(dir.path, 'sales-v2.csv');
    writeFileSync(v2, 'region,amount\nsouth,2\n');
    assert.equal((await cli(['snapshot', 'push', 'sales', v2, ...server()])).code, 0);
    assert.equal((await client.getRun((await client.createRun('produce', { tag: 'v2' })).id, 60)).state, 'succeeded');

    const rerun = await client.getRun((await client.rerun(first.id)).id, 60);
    assert.equal(rerun.state, 'succeeded', rerun.reason ?? '');
    const again = await hashesPrinted(rerun.id);
    assert.equal(again.sales, sha('region,amount\nnorth,1\n'), 'the rerun reads the old snapshot version');
    assert.equal(again.model, sha('model-weights-v1'), "the rerun reads the old run's artifact");

    const fresh = await client.getRun((await client.createRun('consume', {})).id, 60);
    assert.equal(fresh.state, 'succeeded', fresh.reason ?? '');
    const now = await hashesPrinted(fresh.id);
    assert.equal(now.sales, sha('region,amount\nsouth,2\n'), 'a new run reads the latest version');
    assert.equal(now.model, sha('model-weights-v2'));
  });

  test('a remote worker (its own data directory) fetches the inputs over HTTP, checked by hash', async () => {
    const worker = spawnCli(['worker', '--server', up.url, '--id', 'w-remote', '--pool', 'remote', '--data', join(dir.path, 'remote-worker'), '--concurrency', '1', '--grace', '1', '--sandbox-bind', dir.path]);
    try {
      const run = await client.getRun((await client.createRun('remote', {})).id, 120);
      assert.equal(run.state, 'succeeded', `${run.reason ?? ''}\n${worker.output()}`);
      const seen = await hashesPrinted(run.id);
      assert.equal(seen.sales, sha('region,amount\nsouth,2\n'));
      assert.equal(seen.model, sha('model-weights-v2'));
    } finally {
      worker.child.kill('SIGTERM');
      await exited(worker.child);
    }
  });

  test('an input that does not exist fails the attempt with a clear reason', async () => {
    const run = await client.getRun((await client.createRun('missing', {})).id, 60);
    assert.equal(run.state, 'failed');
    assert.match(run.reason ?? '', /no snapshot "nosuch"/);
  });

  // Last: creating the first token turns authentication on for the rest of the server's life.
  test("a token of another project sees none of this project's snapshots and cannot push to it", async () => {
    const other = await client.createToken('other-project', 'deploy', 'elsewhere');
    const mine = await client.createToken('snaps-reader', 'read', 'snaps');
    const listed = await cli(['snapshot', 'list', '--json', '--token', other.token, ...server()]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), []);
    const asked = await cli(['snapshot', 'list', '--project', 'snaps', '--json', '--token', other.token, ...server()]);
    assert.deepEqual(JSON.parse(asked.stdout), []);
    const pushed = await cli(['snapshot', 'push', 'sales', join(dir.path, 'sales-v1.csv'), '--project', 'snaps', '--token', other.token, ...server()]);
    assert.notEqual(pushed.code, 0);
    assert.match(pushed.stderr, /limited to project elsewhere/);
    const own = await cli(['snapshot', 'list', '--json', '--token', mine.token, ...server()]);
    assert.ok((JSON.parse(own.stdout) as unknown[]).length >= 3);
    // A read token cannot push.
    const reader = await cli(['snapshot', 'push', 'sales', join(dir.path, 'sales-v1.csv'), '--token', mine.token, ...server()]);
    assert.notEqual(reader.code, 0);
  });
});
