/**
 * A full disk is a stated condition, not a crash (issue 21, item 2): `kairos up` with its data directory on a
 * 20 MB tmpfs this test mounts (the tests run as root), and a job printing 60 MB. The server stays up, the
 * health route reports the low space while it lasts, the log ends with a marker saying why and from which
 * line, the run's reason says so, the database is consistent, and writes resume once there is room. Then the
 * same with only the attempts' folders (the worker's output spool) on a small tmpfs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { KairosClient } from '../../src/api/client.js';
import { exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

const FLOOD = (lines: number) => `project: full
jobs:
  flood:
    run: ["python3", "-c", "import sys\\nfor i in range(1, ${lines + 1}): sys.stdout.write('%06d %s\\\\n' % (i, 'x' * 92))"]
  small:
    run: "echo still here"
`;

interface Up {
  readonly client: KairosClient;
  readonly port: number;
  readonly data: string;
  readonly proc: ReturnType<typeof spawnCli>;
}

/**
 * `kairos up` on the flood project with a tmpfs of `size` mounted at `mountAt(data)` (removed afterwards with
 * everything else); `body` runs against it, the server is stopped with SIGTERM at its end, then `afterStop`.
 */
async function withSmallDisk(prefix: string, size: string, mountAt: (data: string) => string, lines: number, body: (u: Up) => Promise<void>, afterStop?: (data: string) => void): Promise<void> {
  const dir = tempDir(prefix);
  const data = join(dir.path, 'data');
  const mountPoint = mountAt(data);
  mkdirSync(mountPoint, { recursive: true });
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mountPoint], { encoding: 'utf8' });
  assert.equal(mount.status, 0, `mounting a ${size} tmpfs (the tests run as root): ${mount.stderr}`);
  let proc: ReturnType<typeof spawnCli> | null = null;
  try {
    writeProject(dir.path, { 'project/kairos.yaml': FLOOD(lines) });
    const port = await freePort();
    const client = new KairosClient(`http://127.0.0.1:${port}`);
    proc = spawnCli(['up', join(dir.path, 'project'), '--port', String(port), '--data', data, '--lease', '5s']);
    await waitFor('the server', () => client.health(), 30_000);
    await body({ client, port, data, proc });
    proc.child.kill('SIGTERM');
    await exited(proc.child);
    afterStop?.(data);
  } finally {
    if (proc && proc.child.exitCode === null) {
      proc.child.kill('SIGKILL');
      await exited(proc.child);
    }
    spawnSync('umount', ['-l', mountPoint]);
    dir.cleanup();
  }
}

/** Every line of a run's log, page by page. */
async function allLines(client: KairosClient, runId: string): Promise<{ stream: string; line: string }[]> {
  const lines: { stream: string; line: string }[] = [];
  for (let after = 0; ; ) {
    const page = await client.logs(runId, after, 5000);
    lines.push(...page.lines);
    if (page.lines.length === 0 || !page.more) return lines;
    after = page.next_after;
  }
}

/** The small job runs whole once there is room again. */
async function writesResume(client: KairosClient): Promise<void> {
  const small = await waitFor('a new run', () => client.createRun('small', {}).catch(() => null), 60_000);
  const ended = await waitFor('the new run to end', async () => {
    const r = await client.getRun(small.id);
    return r.state === 'succeeded' || r.state === 'failed' ? r : null;
  }, 60_000);
  assert.deepEqual([ended.state, ended.reason], ['succeeded', null]);
  assert.deepEqual((await client.logs(small.id, 0, 10)).lines.map((l) => l.line), ['still here']);
}

test('a job filling the data directory\'s disk: the server stays up, the log is cut with a marker, writes resume', { timeout: 300_000 }, async () => {
  await withSmallDisk('kairos-diskfull-', '20m', (data) => data, 600_000, async ({ client, port, data, proc }) => {
    const run = await client.createRun('flood', {});
    let sawLowDisk = false;
    const ended = await waitFor('the flood run to end', async () => {
      const h = (await (await fetch(`http://127.0.0.1:${port}/api/v1/health`)).json()) as { disk: { free_bytes: number; low: boolean } | null; warnings: string[] };
      if (h.disk?.low && h.warnings.some((w) => /low disk space/.test(w))) sawLowDisk = true;
      const r = await client.getRun(run.id);
      return r.state !== 'queued' && r.state !== 'running' ? r : null;
    }, 240_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}\n${proc.output().slice(-4000)}`);
    });
    assert.equal(proc.child.exitCode, null, `the server is still up\n${proc.output().slice(-3000)}`);
    // The window in which the disk is full can be a few milliseconds (the attempt's spool files go when it
    // ends), so the health route's report is also checked with the disk held full on purpose.
    if (!sawLowDisk) {
      const ballast = join(data, 'ballast');
      spawnSync('dd', ['if=/dev/zero', `of=${ballast}`, 'bs=1M', 'count=64'], { encoding: 'utf8' });
      try {
        const h = (await (await fetch(`http://127.0.0.1:${port}/api/v1/health`)).json()) as { disk: { low: boolean } | null; warnings: string[] };
        sawLowDisk = h.disk?.low === true && h.warnings.some((w) => /low disk space/.test(w));
      } finally {
        rmSync(ballast, { force: true });
      }
    }
    assert.ok(sawLowDisk, 'the health route reports low disk space while the disk is full');
    // Which fills first, the database or the job's stdout file beside it, is a race: either is said.
    assert.match(ended.reason ?? '', /log cut at line \d+: no space left on (the database's disk|the disk of the worker's output spool)$/, `the run reason says why: ${ended.reason}\n${proc.output().slice(-3000)}`);

    // The log: lines 1..N-1 in order, then the marker naming line N.
    const lines = await allLines(client, run.id);
    const last = lines[lines.length - 1];
    const m = /^\[kairos\] log cut at line (\d+): no space left/.exec(last?.line ?? '');
    assert.ok(m, `the log ends with the marker; it ends with ${JSON.stringify(last)}`);
    const cutAt = Number(m[1]);
    const stdout = lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
    assert.ok(stdout.length > 1000 && stdout.length < 600_000, `some lines were kept before the disk filled (${stdout.length})`);
    stdout.slice(0, -1).forEach((l, i) => assert.equal(l.slice(0, 6), String(i + 1).padStart(6, '0'), `line ${i + 1} is in its place`));
    assert.ok(cutAt >= stdout.length + 1 - 5 && cutAt <= stdout.length + 5, `the marker names the first line not kept (${cutAt}, ${stdout.length} kept)`);

    // Room again (the job's spool is gone): writes resume.
    await writesResume(client);
    assert.doesNotMatch(proc.output(), /cannot rollback|Uncaught|unhandled/i);
  }, (data) => {
    const db = new SqliteDatabase(join(data, 'kairos.db'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok', 'the database is consistent');
    } finally {
      db.close();
    }
  });
});

test('a job filling the disk under the worker\'s output spool (the database has room): the log ends with a marker, the reason says so', { timeout: 300_000 }, async () => {
  // The attempts' folders (where the worker spools output) on a 4 MB tmpfs; the database on the ordinary disk.
  // The job's own writes fail, so this is not a race: nothing is cut for the database.
  await withSmallDisk('kairos-spoolfull-', '4m', (data) => join(data, 'attempts'), 200_000, async ({ client, proc }) => {
    const run = await client.createRun('flood', {});
    const ended = await waitFor('the flood run to end', async () => {
      const r = await client.getRun(run.id);
      return r.state !== 'queued' && r.state !== 'running' ? r : null;
    }, 120_000);
    assert.equal(ended.state, 'failed', 'the job failed on its own write');
    assert.match(ended.reason ?? '', /^exit code 1; log cut at line \d+: no space left on the disk of the worker's output spool$/, `the run reason says why\n${proc.output().slice(-3000)}`);
    const lines = await allLines(client, run.id);
    const stdout = lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
    assert.ok(stdout.length > 1000 && stdout.length < 200_000, `what fitted was kept (${stdout.length} lines)`);
    stdout.slice(0, -1).forEach((l, i) => assert.equal(l.slice(0, 6), String(i + 1).padStart(6, '0'), `line ${i + 1} is in its place`));
    const last = lines[lines.length - 1];
    const m = /^\[kairos\] log cut at line (\d+): no space left on the disk of the worker's output spool/.exec(last?.line ?? '');
    assert.ok(m, `the log ends with the marker; it ends with ${JSON.stringify(last)}`);
    assert.equal(Number(m[1]), lines.length, 'the marker is the line it names: everything before it was kept');
    assert.ok(ended.reason?.includes(`log cut at line ${m[1]}:`), 'the reason and the marker name the same line');
    // The spool's files went with the attempt: the next run's output is whole.
    await writesResume(client);
  });
});
