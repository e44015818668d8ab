/** Logs you can trust: long lines, the cap, resuming a live follow, and control characters shown inert. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { inert } from '../../src/cli/output.js';
import { MAX_LINE_CHARS } from '../../src/worker/lines.js';
import { tempDir, writeProject } from '../helpers.js';

describe('logs', () => {
  const dir = tempDir();
  let up: Embedded;
  let client: KairosClient;

  before(async () => {
    writeProject(dir.path, {
      'kairos.yaml': `project: logs
jobs:
  long-line:
    run: ["python3", "-c", "print('x' * 40000); print('after')"]
  chatty:
    run: ["python3", "-c", "[print('n', i) for i in range(5000)]"]
  ticker:
    run: ["sh", "-c", "i=0; while [ $i -lt 30 ]; do echo tick $i; i=$((i+1)); sleep 0.05; done"]
`,
    });
    up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'data'), port: 0, watch: false, maxLogLines: 1000, log: () => {} });
    client = new KairosClient(up.url);
  });

  after(async () => {
    await up.stop(2000);
    dir.cleanup();
  });

  test('a line longer than the limit is split, not dropped', async () => {
    const run = await client.createRun('long-line', {});
    assert.equal((await client.getRun(run.id, 120)).state, 'succeeded');
    const lines = (await client.logs(run.id)).lines.map((l) => l.line);
    assert.ok(lines.slice(0, -1).every((l) => l.length <= MAX_LINE_CHARS));
    assert.equal(lines.slice(0, -1).join(''), 'x'.repeat(40000));
    assert.equal(lines[lines.length - 1], 'after');
  });

  test('a log over its cap ends with an explicit truncation marker', async () => {
    const run = await client.createRun('chatty', {});
    assert.equal((await client.getRun(run.id, 120)).state, 'succeeded');
    const { lines } = await client.logs(run.id, 0, 5000);
    assert.equal(lines.length, 1001);
    assert.equal(lines[999]?.line, 'n 999');
    assert.equal(lines[1000]?.stream, 'system');
    assert.match(lines[1000]?.line ?? '', /log truncated/);
  });

  test('a follower that resumes from its last line gets no gap and no duplicate', async () => {
    const run = await client.createRun('ticker', {});
    const first: number[] = [];
    for await (const ev of client.followLogs(run.id, 0)) {
      if (ev.type !== 'line') break;
      first.push(ev.seq);
      if (first.length === 10) break; // the follower goes away mid-run
    }
    const rest: number[] = [];
    let end: string | null = null;
    for await (const ev of client.followLogs(run.id, first[first.length - 1])) {
      if (ev.type === 'line') rest.push(ev.seq);
      else end = ev.state;
    }
    assert.equal(end, 'succeeded');
    const all = [...first, ...rest];
    assert.deepEqual(all, Array.from({ length: 30 }, (_, i) => i + 1));
  });

  test('terminal control sequences are shown inert', () => {
    assert.equal(inert('\u001b[31mred\u001b[0m\u0007'), '^[[31mred^[[0m^G');
    assert.equal(inert('tab\tkept'), 'tab\tkept');
  });
});
