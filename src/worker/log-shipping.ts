/**
 * Log shipping: each attempt's lines, masked, capped, batched and shipped in order (`LogShipper`), and the
 * worker's batcher that puts the batches of all its attempts into one report at a time (`LogBatcher`).
 */
import { KairosError } from '../model/errors.js';
import type { Backoff } from '../model/retry.js';
import { retrying } from '../lib/retry.js';
import { unavailableReason } from '../model/unavailable.js';
import { Masker, MaskStream } from './mask.js';
import type { Assignment, ControlLink, LeaseRef, LogLine, LogStream } from '../protocol/worker.js';

/** What a shipper needs of the attempt's settings. */
export interface ShipperSettings {
  /** The worker's log batcher, shared by its attempts. */
  readonly logs: LogBatcher;
  readonly flushMs: number;
  readonly maxLogLines: number;
  readonly maxLogBytes: number;
}

/** How reports wait out a busy or unreachable control plane: 50 ms doubling to 2 s (about a minute in 31 tries). */
export const REPORT_BACKOFF: Backoff = { baseMs: 50, factor: 2, maxMs: 2000, jitter: 0 };

export function isStaleLease(err: unknown): boolean {
  return err instanceof KairosError && err.code === 'stale_lease';
}

/**
 * Coalesces the log batches of all attempts on this worker into one report (one transaction) at a time:
 * with a hundred chatty jobs, a hundred small transactions a flush would fall behind; one does not.
 */
export class LogBatcher {
  private queue: { lease: LeaseRef; lines: readonly LogLine[]; resolve: (stale: boolean) => void; reject: (err: unknown) => void }[] = [];
  private draining = false;

  constructor(private readonly link: ControlLink) {}

  /** Resolves true when the lease was stale (the lines were refused). */
  submit(lease: LeaseRef, lines: readonly LogLine[]): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ lease, lines, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const items = this.queue.splice(0);
        try {
          const { stale } = await this.link.appendLogsMany(items.map(({ lease, lines }) => ({ lease, lines })));
          const staleKeys = new Set(stale.map((l) => `${l.runId}/${l.attempt}/${l.token}`));
          for (const i of items) i.resolve(staleKeys.has(`${i.lease.runId}/${i.lease.attempt}/${i.lease.token}`));
        } catch (err) {
          for (const i of items) i.reject(err);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}

/**
 * A batch is shipped when this many lines wait (or after flushMs): a fast producer's lines go to the store in
 * batches of this size, each one chunk row, so fewer and larger writes.
 */
const FLUSH_LINES = 4000;

/** Batches an attempt's log lines and ships them in order, one batch in flight at a time. */
export class LogShipper {
  private pending: LogLine[] = [];
  private seq: number;
  private bytes = 0;
  private count = 0;
  private truncated = false;
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> = Promise.resolve();
  stale = false;
  /** The attempt's line number from which the log was cut because a disk was full (null: not cut). */
  cutAtLine: number | null = null;
  /** Which disk: the store's, or the one under the worker's output spool. */
  cutWhere: 'store' | 'spool' = 'store';
  private marker: Promise<void> = Promise.resolve();
  /** Masks the values of the attempt's secrets in every line before it is kept (null: the job has none). */
  readonly masker: Masker | null;
  private readonly masks = new Map<LogStream, MaskStream>();

  constructor(
    private readonly a: Assignment,
    private readonly s: ShipperSettings,
    private readonly onStale: () => void,
  ) {
    this.seq = a.logSeqStart;
    const values = Object.values(a.secrets ?? {});
    this.masker = values.length > 0 ? new Masker(values) : null;
  }

  /** A line, or with `lineEnd` false the piece of one that goes on in the next call. */
  add(stream: LogStream, line: string, lineEnd = true): void {
    const masker = this.masker;
    if (!masker) return this.keep(stream, line);
    let m = this.masks.get(stream);
    if (!m) this.masks.set(stream, (m = new MaskStream(masker, (text) => this.keep(stream, text))));
    m.write(line, lineEnd);
  }

  /** Lets out what masking holds back (the end of the attempt's output). */
  release(): void {
    for (const m of this.masks.values()) m.release();
  }

  private keep(stream: LogStream, line: string): void {
    if (this.truncated) return;
    if (this.count >= this.s.maxLogLines || this.bytes + line.length > this.s.maxLogBytes) {
      this.truncated = true;
      this.push('system', `[kairos] log truncated: this run's log reached its cap (${this.s.maxLogLines} lines or ${this.s.maxLogBytes} bytes); later output was not kept`);
      return;
    }
    this.count++;
    this.bytes += line.length;
    this.push(stream, line);
  }

  private push(stream: LogStream, line: string): void {
    this.pending.push({ seq: ++this.seq, ts: Date.now(), stream, line });
    // A failed send surfaces where the attempt waits for its log (settled()); here it must not go unhandled.
    if (this.pending.length >= FLUSH_LINES) this.flush().catch(() => undefined);
    else if (!this.timer) this.timer = setTimeout(() => void this.flush().catch(() => undefined), this.s.flushMs);
  }

  /**
   * The store's disk is full: this batch and everything after it are dropped (holding them would only fill
   * memory), and the log ends with a marker saying why and from which line, stored once there is room again
   * (at the latest when the attempt's own spool files are removed at its end).
   */
  private cut(seq: number): void {
    this.cutAtLine = seq - this.a.logSeqStart;
    this.cutWhere = 'store';
    this.truncated = true;
    this.pending = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const marker: LogLine = { seq, ts: Date.now(), stream: 'system', line: `[kairos] log cut at line ${this.cutAtLine}: no space left on the disk of the control plane's database; that line and later output were not kept` };
    // Not awaited by the reader of the job's output: the room it needs may come only when the attempt's
    // spool files are removed at its end. The attempt waits for it before it reports (see `settled`).
    this.marker = (async () => {
      if (this.stale) return;
      try {
        if (await retrying(() => this.s.logs.submit(this.a.lease, [marker]), { backoff: REPORT_BACKOFF, maxTries: 21, fatal: isStaleLease, outlasts: (err) => unavailableReason(err) !== null })) this.stale = true;
      } catch {
        // stale, or given up: the run's reason still says the log was cut
      }
    })();
  }

  /**
   * Some of the job's output never reached the worker: the disk under its output spool filled (the job's own
   * writes failed, or its stderr was dropped). Called once all that did arrive was added: the log ends here
   * with a marker saying so. A log already cut for the store's disk keeps that marker.
   */
  cutForSpace(): void {
    if (this.cutAtLine !== null || this.stale) return;
    this.cutAtLine = this.seq + 1 - this.a.logSeqStart;
    this.cutWhere = 'spool';
    this.truncated = true;
    this.push('system', `[kairos] log cut at line ${this.cutAtLine}: no space left on the disk of the worker's output spool; the job's output from there on was lost`);
  }

  /** Every line shipped, and the marker of a cut log stored. */
  async settled(): Promise<void> {
    await this.flush();
    await this.marker;
  }

  /** Holds a fast producer back while many lines wait to be stored (the spool keeps the job itself going). */
  pace(): Promise<void> {
    return this.pending.length < 20_000 ? Promise.resolve() : this.flush();
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return this.inflight;
    const batch = this.pending;
    this.pending = [];
    this.inflight = this.inflight.then(() => this.send(batch));
    return this.inflight;
  }

  private async send(batch: LogLine[]): Promise<void> {
    if (this.stale || (this.cutAtLine !== null && this.cutWhere === 'store')) return;
    let stale: boolean;
    try {
      // A database that is unavailable (locked, down) is waited for as long as it takes: the lines stay here
      // in order and go once it is back. A full disk cuts the log; anything else is given up after ~30 s.
      const diskFull = (err: unknown) => unavailableReason(err) === 'disk_full';
      stale = await retrying(() => this.s.logs.submit(this.a.lease, batch), { backoff: REPORT_BACKOFF, maxTries: 21, fatal: (err) => isStaleLease(err) || diskFull(err), outlasts: (err) => unavailableReason(err) !== null });
    } catch (err) {
      if (unavailableReason(err) === 'disk_full' && batch[0]) return this.cut(batch[0].seq);
      if (!isStaleLease(err)) throw err;
      stale = true;
    }
    if (stale) {
      this.stale = true;
      this.onStale();
    }
  }
}
