import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { decodeChunk, encodeChunk, insertLogChunk, maxLogSeq, readLogLines, type LogLineInput } from '../../src/store/logs.js';
import { migrationProvider } from '../../src/store/migrations.js';
import { openDb, openSqlite } from '../../src/store/db.js';
import { dialectTest, freshTarget } from '../dialects.js';

const STREAMS = ['stdout', 'stderr', 'system'] as const;

function randomBatch(rand: () => number, firstSeq: number, n: number, gaps: boolean): LogLineInput[] {
  const alphabet = ['a', 'é', '漢', '😀', '\r', '\t', ' ', '\u001b[31m', '\n', '\\', '"', ',', '\uFFFD'];
  const out: LogLineInput[] = [];
  let seq = firstSeq;
  let ts = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    let line = '';
    const len = Math.floor(rand() * 12);
    for (let j = 0; j < len; j++) line += alphabet[Math.floor(rand() * alphabet.length)];
    ts += rand() < 0.3 ? Math.floor(rand() * 5) - 1 : 0;
    out.push({ seq, ts, stream: STREAMS[Math.floor(rand() * 3)]!, line });
    seq += gaps && rand() < 0.2 ? 2 + Math.floor(rand() * 3) : 1;
  }
  return out;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('a chunk decodes to exactly the lines it was made of (newlines, unicode, gaps, clock steps)', () => {
  const rand = lcg(7);
  for (let round = 0; round < 500; round++) {
    const batch = randomBatch(rand, 1 + Math.floor(rand() * 1000), 1 + Math.floor(rand() * 40), rand() < 0.5);
    const chunk = encodeChunk(batch);
    const back = decodeChunk('r1', 2, chunk);
    assert.deepEqual(
      back,
      batch.map((l) => ({ run_id: 'r1', attempt: 2, seq: l.seq, ts: l.ts, stream: l.stream, line: l.line })),
      `round ${round}`,
    );
    assert.equal(chunk.first_seq, batch[0]!.seq);
    assert.equal(chunk.last_seq, batch[batch.length - 1]!.seq);
  }
});

test('plain output is stored joined, without per-line overhead', () => {
  const batch = Array.from({ length: 1000 }, (_, i) => ({ seq: i + 1, ts: 5, stream: 'stdout', line: `line ${i}` }));
  const c = encodeChunk(batch);
  assert.equal(c.enc, 0);
  assert.equal(c.ts_deltas, '');
  assert.equal(c.seqs, null);
  assert.equal(c.lines, batch.map((l) => l.line).join('\n'));
  assert.equal(c.streams, 'o'.repeat(1000));
});

dialectTest('reading pages across chunks by seq, per attempt, and a batch stored twice is kept once', async (dialect) => {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-logs-'));
  const db = await openDb(await freshTarget(dialect, dir));
  try {
    const a1 = Array.from({ length: 2500 }, (_, i) => ({ seq: i + 1, ts: 1000 + i, stream: 'stdout', line: `a1-${i + 1}` }));
    for (let i = 0; i < a1.length; i += 1000) await insertLogChunk(db.kysely, 'run1', 1, a1.slice(i, i + 1000));
    await insertLogChunk(db.kysely, 'run1', 1, a1.slice(1000, 2000)); // a retried report
    const a2 = Array.from({ length: 300 }, (_, i) => ({ seq: 2501 + i, ts: 9000, stream: 'stderr', line: i === 7 ? 'nul \0 byte' : `a2-${i + 1}` }));
    await insertLogChunk(db.kysely, 'run1', 2, a2);
    assert.equal(await maxLogSeq(db.kysely, 'run1'), 2800);
    assert.equal(await maxLogSeq(db.kysely, 'other'), 0);

    const all: number[] = [];
    for (let after = 0; ; ) {
      const page = await readLogLines(db.kysely, 'run1', after, 777);
      if (page.length === 0) break;
      all.push(...page.map((l) => l.seq));
      after = page[page.length - 1]!.seq;
    }
    assert.deepEqual(all, Array.from({ length: 2800 }, (_, i) => i + 1));
    const mid = await readLogLines(db.kysely, 'run1', 1234, 3);
    assert.deepEqual(mid.map((l) => l.line), ['a1-1235', 'a1-1236', 'a1-1237']);
    const second = await readLogLines(db.kysely, 'run1', 0, 10_000, 2);
    assert.equal(second.length, 300);
    assert.ok(second.every((l) => l.attempt === 2 && l.stream === 'stderr'));
    assert.equal(second[7]?.line, 'nul \0 byte', 'a NUL byte is kept (PostgreSQL text cannot hold one raw)');
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lines stored one per row by an older version are still read after the upgrade', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kairos-logs-'));
  const file = join(dir, 'k.db');
  const old = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(file) }) });
  const migrator = new Migrator({ db: old, provider: migrationProvider });
  assert.equal((await migrator.migrateTo('0001_initial')).error, undefined);
  const rows = [
    { run_id: 'r', seq: 1, attempt: 1, ts: 10, stream: 'stdout', line: 'hello' },
    { run_id: 'r', seq: 2, attempt: 1, ts: 11, stream: 'stderr', line: 'oops' },
    { run_id: 'r', seq: 3, attempt: 1, ts: 12, stream: 'system', line: 'two\nlines' },
  ];
  await old.insertInto('log_lines').values(rows).execute();
  await old.destroy();
  const db = await openSqlite(file);
  try {
    const back = await readLogLines(db.kysely, 'r', 0, 100);
    assert.deepEqual(back, rows);
    assert.equal(await maxLogSeq(db.kysely, 'r'), 3);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a live-stream event is the JSON of the line view, whatever the line holds', async () => {
  const { logLineEvent, logLineView } = await import('../../src/api/views.js');
  const rand = lcg(11);
  for (const l of randomBatch(rand, 1, 300, true)) {
    const row = { run_id: 'r', attempt: 3, ...l };
    assert.deepEqual(JSON.parse(logLineEvent(row)), { type: 'line', ...logLineView(row) });
  }
});
