/**
 * The log store. A worker ships an attempt's lines in batches; each batch is stored as one chunk row (its lines
 * joined, with their timestamps and streams beside them) instead of one row per line. A job printing at full
 * speed makes millions of lines; a row each cost more CPU than the job itself, a chunk each costs one insert.
 * Readers address lines by their sequence number exactly as before: a chunk covers [first_seq, last_seq].
 */
import type { Kysely } from 'kysely';
import type { Database, LogChunksTable } from './schema.js';

type Q = Kysely<Database>;

export type LogStream = 'stdout' | 'stderr' | 'system';

export interface LogLineRow {
  run_id: string;
  seq: number;
  attempt: number;
  ts: number;
  stream: string;
  line: string;
}

export interface LogLineInput {
  readonly seq: number;
  readonly ts: number;
  readonly stream: string;
  readonly line: string;
}

const STREAM_CODE: Record<string, string> = { stdout: 'o', stderr: 'e', system: 's' };
const CODE_STREAM: Record<string, LogStream> = { o: 'stdout', e: 'stderr', s: 'system' };

/** How a chunk's `lines` column is encoded. */
const ENC_JOINED = 0; // the lines joined by "\n" (no line contains one: the usual case, cheapest); a single line as is
const ENC_JSON = 1; // a JSON array of strings (some line contains "\n", e.g. a multi-line system message, or a NUL)

/** A chunk as stored, less the run and attempt it belongs to (see LogChunksTable for each column's meaning). */
export type EncodedChunk = Omit<LogChunksTable, 'run_id' | 'attempt'>;

/** Encodes a batch of lines (in seq order) as one chunk. Pure. */
export function encodeChunk(lines: readonly LogLineInput[]): EncodedChunk {
  const first = lines[0];
  if (!first) throw new Error('encodeChunk: empty batch');
  const n = lines.length;
  const texts = new Array<string>(n);
  let streams = '';
  let tsDeltas: string[] | null = null;
  let seqDeltas: string[] | null = null;
  let prevTs = first.ts;
  let prevSeq = first.seq;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const l = lines[i]!;
    texts[i] = l.line;
    bytes += l.line.length;
    streams += STREAM_CODE[l.stream] ?? 's';
    if (l.ts !== prevTs && tsDeltas === null) tsDeltas = new Array<string>(i).fill('0');
    if (tsDeltas !== null) tsDeltas.push(String(l.ts - prevTs));
    prevTs = l.ts;
    if (i > 0 && l.seq !== prevSeq + 1 && seqDeltas === null) seqDeltas = new Array<string>(i).fill('1');
    if (seqDeltas !== null) seqDeltas.push(String(i === 0 ? 0 : l.seq - prevSeq));
    prevSeq = l.seq;
  }
  if (seqDeltas) seqDeltas[0] = '0';
  let joined = texts.join('\n');
  let enc = ENC_JOINED;
  // PostgreSQL's text refuses NUL; JSON writes it as \u0000.
  if ((n > 1 && countNewlines(joined) !== n - 1) || joined.includes('\0')) {
    joined = JSON.stringify(texts);
    enc = ENC_JSON;
  }
  return {
    first_seq: first.seq,
    last_seq: prevSeq,
    count: n,
    ts0: first.ts,
    ts_deltas: tsDeltas ? tsDeltas.join(',') : '',
    streams,
    seqs: seqDeltas ? seqDeltas.join(',') : null,
    enc,
    lines: joined,
    bytes,
  };
}

function countNewlines(s: string): number {
  let count = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) count++;
  return count;
}

/** Decodes a stored chunk back into its lines. Pure; the inverse of encodeChunk. */
export function decodeChunk(runId: string, attempt: number, c: Pick<EncodedChunk, 'first_seq' | 'count' | 'ts0' | 'ts_deltas' | 'streams' | 'seqs' | 'enc' | 'lines'>): LogLineRow[] {
  const count = Number(c.count);
  const texts: string[] = Number(c.enc) === ENC_JSON ? (JSON.parse(c.lines) as string[]) : count === 1 ? [c.lines] : c.lines.split('\n');
  const tsDeltas = c.ts_deltas === '' ? null : c.ts_deltas.split(',');
  const seqDeltas = c.seqs === null || c.seqs === undefined ? null : c.seqs.split(',');
  const out = new Array<LogLineRow>(count);
  let ts = Number(c.ts0);
  let seq = Number(c.first_seq);
  for (let i = 0; i < count; i++) {
    if (tsDeltas) ts += Number(tsDeltas[i]);
    if (i > 0) seq += seqDeltas ? Number(seqDeltas[i]) : 1;
    out[i] = { run_id: runId, seq, attempt, ts, stream: CODE_STREAM[c.streams[i] ?? 's'] ?? 'system', line: texts[i] ?? '' };
  }
  return out;
}

/** Stores batches of one attempt's lines. A batch sent twice (a retried report) is stored once. */
export async function insertLogChunk(q: Q, runId: string, attempt: number, lines: readonly LogLineInput[]): Promise<void> {
  if (lines.length === 0) return;
  const c = encodeChunk(lines);
  await q
    .insertInto('log_chunks')
    .values({ run_id: runId, attempt, ...c })
    .onConflict((oc) => oc.columns(['run_id', 'last_seq']).doNothing())
    .execute();
}

/** Lines of a run with seq > afterSeq, in order, at most `limit` (optionally of one attempt only). */
export async function readLogLines(q: Q, runId: string, afterSeq: number, limit: number, attempt?: number): Promise<LogLineRow[]> {
  const out: LogLineRow[] = [];
  let from = afterSeq;
  // Chunks hold up to about a thousand lines; read a few at a time until the page is full.
  for (;;) {
    let query = q
      .selectFrom('log_chunks')
      .select(['first_seq', 'last_seq', 'attempt', 'count', 'ts0', 'ts_deltas', 'streams', 'seqs', 'enc', 'lines'])
      .where('run_id', '=', runId)
      .where('last_seq', '>', from);
    if (attempt !== undefined) query = query.where('attempt', '=', attempt);
    const want = limit - out.length;
    const chunks = await query.orderBy('last_seq').limit(Math.max(1, Math.min(64, Math.ceil(want / 256)))).execute();
    if (chunks.length === 0) return out;
    for (const c of chunks) {
      for (const line of decodeChunk(runId, Number(c.attempt), c)) {
        if (line.seq <= from) continue;
        out.push(line);
        if (out.length >= limit) return out;
      }
      from = Number(c.last_seq);
    }
  }
}

/** The highest seq stored for a run (0 when none): a new attempt's lines continue after it. */
export async function maxLogSeq(q: Q, runId: string): Promise<number> {
  const row = await q.selectFrom('log_chunks').select((eb) => eb.fn.max('last_seq').as('s')).where('run_id', '=', runId).executeTakeFirst();
  return row?.s == null ? 0 : Number(row.s);
}
