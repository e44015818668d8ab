/**
 * A job printing a gigabyte at full speed: every byte of it is stored. The job writes the same bytes to a file of
 * its own; the stored log, downloaded as text, must have the same length and SHA-256.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { ROOT, tempDir, waitFor, writeProject } from '../helpers.js';

const GIB = 1024 * 1024 * 1024;

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

function sha256Url(url: string): Promise<{ hash: string; bytes: number; status: number }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      const h = createHash('sha256');
      let bytes = 0;
      res.on('data', (d: Buffer) => {
        h.update(d);
        bytes += d.length;
      });
      res.on('end', () => resolve({ hash: h.digest('hex'), bytes, status: res.statusCode ?? 0 }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

const dir = tempDir();
let up: Embedded;
let client: KairosClient;

before(async () => {
  writeProject(dir.path, {
    'kairos.yaml': `project: flood
jobs:
  flood:
    run: ["python3", "flood.py", "${GIB}"]
    params:
      copy: {type: string, required: true}
    timeout: 30m
`,
    // Random base64 lines at full speed, the same bytes also written to the file named by the copy param.
    'flood.py': readFileSync(join(ROOT, 'bench', 'flood.py'), 'utf8'),
  });
  up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {}, sandbox: { mode: 'auto', bind: [dir.path] } });
  client = new KairosClient(up.url);
});

after(async () => {
  await up.stop(2000);
  dir.cleanup();
});

test('a job printing 1 GiB at full speed has every byte stored', async () => {
  const copy = join(dir.path, 'copy.txt');
  const run = await client.createRun('flood', { copy });
  const started = Date.now();
  const done = await waitFor('the flood run to end', async () => {
    const r = await client.getRun(run.id, 120);
    return r.state === 'succeeded' || r.state === 'failed' || r.state === 'timed_out' ? r : null;
  }, 20 * 60_000);
  console.log(`# 1 GiB captured in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(done.state, 'succeeded', done.reason ?? '');
  const size = statSync(copy).size;
  assert.ok(size >= GIB, `the job wrote ${size} bytes`);
  const [want, got, system] = await Promise.all([
    sha256File(copy),
    sha256Url(`${up.url}/api/v1/runs/${run.id}/logs/text?stream=stdout`),
    client.logs(run.id, 0, 10),
  ]);
  assert.equal(got.status, 200);
  assert.equal(got.bytes, size, 'stored bytes');
  assert.equal(got.hash, want, 'SHA-256 of the stored log equals the copy the job wrote');
  assert.ok(!system.lines.some((l) => l.stream === 'system' && /truncated/.test(l.line)), 'no truncation');
});
