/**
 * The one periodic loop: a pass, then a wait the pass chooses (or the default), then the next pass; never two
 * passes at once. `wake()` asks for a pass soon (coalesced), and `stop()` resolves once the pass in flight, if
 * any, has finished: after it, the loop touches nothing (the database may be closed).
 */

export interface LoopOptions {
  /** One pass; returns how long to wait before the next (ms), or nothing for `everyMs`. */
  readonly pass: () => Promise<number | void>;
  readonly everyMs: number;
  readonly onError: (err: unknown) => void;
  /** The wait after a pass that threw (default `everyMs`). */
  readonly errorDelayMs?: number;
  /** Wakes coalesce: a woken pass starts no sooner than this after the previous one began (default 0). */
  readonly wakeGapMs?: number;
  /** Whether a pending wait keeps the process alive (default false). */
  readonly keepAlive?: boolean;
}

export class Loop {
  private timer: NodeJS.Timeout | null = null;
  /** When the pending timer fires, and when the last pass began (process time: only for pacing). */
  private timerAt = 0;
  private lastPassAt = -Infinity;
  private running = false;
  private again = false;
  private started = false;
  private stopped = false;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(private readonly o: LoopOptions) {}

  /** Starts the loop: its first pass now, or `firstInMs` from now. */
  start(firstInMs = 0): void {
    if (this.started) return;
    this.started = true;
    this.arm(firstInMs);
  }

  /** A pass may have work now: run one soon (after the one in flight, if any). */
  wake(): void {
    if (!this.started || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const at = this.lastPassAt + (this.o.wakeGapMs ?? 0);
    if (this.timer && this.timerAt <= at) return;
    this.arm(Math.max(0, at - Date.now()));
  }

  /** Stops the loop; resolves when the pass in flight (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private arm(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = Date.now() + ms;
    this.timer = setTimeout(() => this.runPass(), ms);
    if (this.o.keepAlive !== true) this.timer.unref();
  }

  private runPass(): void {
    this.timer = null;
    this.lastPassAt = Date.now();
    this.running = true;
    this.again = false;
    let pass: Promise<number | void>;
    try {
      pass = this.o.pass();
    } catch (err) {
      pass = Promise.reject(err);
    }
    this.inFlight = pass
      .then(
        (d) => (typeof d === 'number' && Number.isFinite(d) ? Math.max(0, d) : this.o.everyMs),
        (err: unknown) => {
          try {
            this.o.onError(err);
          } catch {
            // A failing error handler must not stop the loop.
          }
          return this.o.errorDelayMs ?? this.o.everyMs;
        },
      )
      .then((delay) => {
        this.running = false;
        this.arm(this.again ? Math.min(delay, this.o.wakeGapMs ?? 0) : delay);
      });
  }
}
