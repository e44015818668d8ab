/**
 * Artifacts end to end: a server whose artifact store is S3 (s3rver on loopback, through the AWS SDK), a remote
 * worker with its own data directory runs a job that writes a 20 MB CSV, a PNG and an HTML page; another
 * CLI (its own working directory, nothing shared but the server) gets them back with the same SHA-256; the
 * dashboard in Chromium shows the CSV's first rows and the image and frames the HTML in an empty sandbox; a
 * token of another project gets 404 and no bytes; a run over the per-run limit says so in its log.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, symlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromiumMissing, openBrowser } from '../browser.js';
import { cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';
import { startS3Server, type S3Server } from '../artifacts/s3-server.js';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAYAAABytg0kAAAAFklEQVR42mP8z8DwnwEIGBkYGBgYAAAz/gP9Vq1ZVQAAAABJRU5ErkJggg==';
const MANIFEST = `project: lab
jobs:
  report:
    run: |
      awk 'BEGIN { print "id,name,value"; for (i = 0; i < 880000; i++) printf "%d,row%d,%d\\n", i, i, i * 7 }' > "$KAIROS_ARTIFACTS/report.csv"
      mkdir -p "$KAIROS_ARTIFACTS/plots"
      printf '%s' '${PNG}' | base64 -d > "$KAIROS_ARTIFACTS/plots/plot.png"
      printf '<html><body><h1 id="nb">notebook</h1><script>parent.document.title = "pwned"; window.top.pwned = 1</script></body></html>' > "$KAIROS_ARTIFACTS/notebook.html"
      echo done
  many:
    run: |
      for i in 1 2 3 4 5 6; do echo $i > "$KAIROS_ARTIFACTS/f$i.txt"; done
      exit 3
`;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const skipBrowser = chromiumMissing();

describe('artifacts from a remote worker, through an S3 store', () => {
  const dir = tempDir('kairos-art-e2e-');
  const data = join(dir.path, 'server-data');
  const proj = join(dir.path, 'proj');
  let s3: S3Server;
  let port = 0;
  let server: ReturnType<typeof spawnCli>;
  let worker: ReturnType<typeof spawnCli>;
  const url = () => `http://127.0.0.1:${port}`;
  const tok: Record<string, string> = {};
  const kairos = (args: string[], token: string | undefined, cwd?: string) => cli([...args, '--server', url(), ...(token ? ['--token', token] : [])], { env: { KAIROS_TOKEN: '' }, cwd: cwd ?? dir.path });
  let runId = '';

  before(async () => {
    s3 = await startS3Server(['kairos-e2e']);
    writeProject(proj, { 'kairos.yaml': MANIFEST });
    mkdirSync(data, { recursive: true });
    for (const [name, scope, project] of [['admin', 'admin', null], ['worker', 'worker', null], ['labreader', 'read', 'lab'], ['otherreader', 'read', 'other']] as const) {
      const r = await cli(['token', 'create', name, '--scope', scope, ...(project ? ['--project', project] : []), '--data', data], { env: { KAIROS_TOKEN: '' } });
      assert.equal(r.code, 0, r.stderr);
      tok[name] = r.stdout.trim();
    }
    port = await freePort();
    server = spawnCli(['server', '--data', data, '--port', String(port), '--artifacts', 's3://kairos-e2e/team', '--s3-endpoint', s3.endpoint, '--s3-path-style', '--s3-region', 'us-east-1', '--artifacts-max-files', '4'], {
      env: { KAIROS_TOKEN: '', AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
      cwd: data,
    });
    await waitFor('the server', async () => (await fetch(url() + '/api/v1/health', { headers: { authorization: `Bearer ${tok.admin}` } })).ok);
    const d = await kairos(['deploy', proj], tok.admin);
    assert.equal(d.code, 0, d.stderr + server.output());
    worker = spawnCli(['worker', '--server', url(), '--token', tok.worker ?? '', '--id', 'remote-1', '--data', join(dir.path, 'worker-data'), '--concurrency', '1', '--grace', '1'], { env: { KAIROS_TOKEN: '' } });
  });

  after(async () => {
    for (const p of [worker, server]) {
      if (p && p.child.exitCode === null) {
        p.child.kill('SIGTERM');
        await exited(p.child);
      }
    }
    await s3?.stop();
    dir.cleanup();
  });

  test('the job runs on the remote worker; its artifacts are listed with type and stored', async () => {
    const r = await kairos(['run', 'report', '--project', 'lab'], tok.admin);
    assert.equal(r.code, 0, r.stderr + worker.output() + server.output());
    const runs = JSON.parse((await kairos(['runs', '--json', '--job', 'report'], tok.admin)).stdout) as { id: string }[];
    runId = runs[0]?.id ?? '';
    const list = await kairos(['artifacts', runId, '--json'], tok.labreader);
    assert.equal(list.code, 0, list.stderr);
    const arts = JSON.parse(list.stdout) as { path: string; size: number; sha256: string; content_type: string; stored: boolean }[];
    const log = await kairos(['logs', runId], tok.admin);
    assert.match(log.stdout + log.stderr, /\[kairos\] artifacts: 3 uploaded/, log.stderr.slice(-3000) + worker.output().slice(-3000) + server.output().slice(-3000));
    assert.deepEqual(arts.map((a) => [a.path, a.content_type, a.stored]), [
      ['notebook.html', 'text/html; charset=utf-8', true],
      ['plots/plot.png', 'image/png', true],
      ['report.csv', 'text/csv; charset=utf-8', true],
    ]);
    assert.ok((arts[2]?.size ?? 0) > 20_000_000, `the CSV is over 20 MB (${arts[2]?.size})`);
    const table = await kairos(['artifacts', runId], tok.labreader);
    assert.match(table.stdout, /report\.csv\s+\d+\.\d MiB\s+text\/csv/);
  });

  test('another CLI gets the same bytes back (one file, and --all into a directory)', async () => {
    const elsewhere = join(dir.path, 'elsewhere');
    mkdirSync(elsewhere);
    const arts = JSON.parse((await kairos(['artifacts', runId, '--json'], tok.labreader)).stdout) as { path: string; sha256: string }[];
    const one = await kairos(['artifacts', 'get', runId, 'report.csv', '-o', 'r.csv'], tok.labreader, elsewhere);
    assert.equal(one.code, 0, one.stderr);
    const csv = readFileSync(join(elsewhere, 'r.csv'));
    assert.equal(sha(csv), arts.find((a) => a.path === 'report.csv')?.sha256);
    assert.ok(csv.subarray(0, 40).toString().startsWith('id,name,value\n0,row0,0\n1,row1,7\n'));

    const all = await kairos(['artifacts', 'get', runId, '--all', '-o', 'out'], tok.labreader, elsewhere);
    assert.equal(all.code, 0, all.stderr);
    for (const a of arts) assert.equal(sha(readFileSync(join(elsewhere, 'out', a.path))), a.sha256, a.path);

    // A directory in DIR that links out is not followed.
    const trap = join(elsewhere, 'trap');
    mkdirSync(join(trap), { recursive: true });
    symlinkSync(join(dir.path, 'outside'), join(trap, 'plots'));
    mkdirSync(join(dir.path, 'outside'));
    const trapped = await kairos(['artifacts', 'get', runId, '--all', '-o', 'trap'], tok.labreader, elsewhere);
    assert.equal(trapped.code, 1);
    assert.match(trapped.stderr, /plots\/plot\.png" goes through a link out of trap; not written/);
    assert.deepEqual(readdirSync(join(dir.path, 'outside')), []);

    const missing = await kairos(['artifacts', 'get', runId, 'nope.csv'], tok.labreader, elsewhere);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /has no artifact "nope\.csv"/);
    assert.equal((await kairos(['artifacts', 'get', runId], tok.labreader, elsewhere)).code, 2);
  });

  test('the API: Range, Content-Type, a sandboxing CSP; another project’s token gets 404 and no bytes', async () => {
    const base = `${url()}/api/v1/runs/${runId}/artifacts`;
    const auth = (t: string | undefined) => ({ authorization: `Bearer ${t ?? ''}` });
    const part = await fetch(`${base}/report.csv`, { headers: { ...auth(tok.labreader), range: 'bytes=0-13' } });
    assert.equal(part.status, 206);
    assert.equal(await part.text(), 'id,name,value\n');
    assert.match(part.headers.get('content-range') ?? '', /^bytes 0-13\/\d+$/);
    assert.equal(part.headers.get('content-type'), 'text/csv; charset=utf-8');
    const html = await fetch(`${base}/notebook.html?download=1`, { headers: auth(tok.labreader) });
    assert.equal(html.status, 200);
    assert.match(html.headers.get('content-security-policy') ?? '', /^sandbox; default-src 'none'/);
    assert.equal(html.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(html.headers.get('content-disposition'), `attachment; filename="notebook.html"; filename*=UTF-8''notebook.html`);
    await html.arrayBuffer();
    const bad = await fetch(`${base}/report.csv`, { headers: { ...auth(tok.labreader), range: 'bytes=999999999-' } });
    assert.equal(bad.status, 416);
    await bad.arrayBuffer();

    for (const path of ['', '/report.csv', '/plots/plot.png']) {
      const res = await fetch(`${base}${path}`, { headers: auth(tok.otherreader) });
      assert.ok(res.status === 403 || res.status === 404, `${path}: ${res.status}`);
      const body = await res.text();
      assert.doesNotMatch(body, /row0|PNG/);
    }
    const cliOther = await kairos(['artifacts', 'get', runId, 'report.csv', '-o', join(dir.path, 'stolen.csv')], tok.otherreader);
    assert.equal(cliOther.code, 1);
    assert.throws(() => readFileSync(join(dir.path, 'stolen.csv')));
  });

  test('a failed run over the per-run file limit keeps the first files and says so in its log', async () => {
    const r = await kairos(['run', 'many', '--project', 'lab'], tok.admin);
    assert.equal(r.code, 3, r.stderr);
    const runs = JSON.parse((await kairos(['runs', '--json', '--job', 'many'], tok.admin)).stdout) as { id: string }[];
    const id = runs[0]?.id ?? '';
    const arts = JSON.parse((await kairos(['artifacts', id, '--json'], tok.admin)).stdout) as { path: string }[];
    assert.deepEqual(arts.map((a) => a.path), ['f1.txt', 'f2.txt', 'f3.txt', 'f4.txt']);
    const log = await kairos(['logs', id], tok.admin);
    assert.match(log.stdout + log.stderr, /\[kairos\] artifacts: 2 of 6 not kept \(2 over the limit of 4 files per run\): f5\.txt, f6\.txt/);
  });

  test('the dashboard shows the CSV’s first rows and the image; the HTML is framed in an empty sandbox', { skip: skipBrowser ?? false }, async () => {
    const b = await openBrowser();
    try {
      await b.page.addInitScript((t) => (globalThis as unknown as { sessionStorage: { setItem(k: string, v: string): void } }).sessionStorage.setItem('kairos.token', t), tok.labreader ?? '');
      await b.page.goto(`${url()}/runs/${runId}`);
      const table = b.page.locator('[data-artifact-preview="report.csv"] table[data-preview="table"]');
      await table.waitFor();
      assert.deepEqual(await table.locator('thead th').allTextContents(), ['id', 'name', 'value']);
      assert.deepEqual(await table.locator('tbody tr').first().locator('td').allTextContents(), ['0', 'row0', '0']);
      assert.equal(await table.locator('tbody tr').count(), 20);
      const img = b.page.locator('[data-artifact-preview="plots/plot.png"] img[data-preview="image"]');
      await img.waitFor();
      await waitFor('the image to load', () => img.evaluate((el) => (el as unknown as { complete: boolean }).complete && (el as unknown as { naturalWidth: number }).naturalWidth === 2));
      const frame = b.page.locator('[data-artifact-preview="notebook.html"] iframe[data-preview="html"]');
      await frame.waitFor();
      assert.equal(await frame.getAttribute('sandbox'), '');
      await waitFor('the framed page', async () => (await b.page.frameLocator('iframe[data-preview="html"]').locator('#nb').textContent()) === 'notebook');
      assert.notEqual(await b.page.title(), 'pwned');
      assert.equal(await b.page.evaluate(() => (globalThis as unknown as { pwned?: number }).pwned), undefined);
      assert.equal(await b.page.locator('a[data-artifact="report.csv"]').count(), 1);
      assert.deepEqual(b.errors.filter((e) => !/Blocked script execution|sandboxed/.test(e)), []);
    } finally {
      await b.close();
    }
  });
});
