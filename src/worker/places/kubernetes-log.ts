/**
 * Follows a pod's log (`GET …/pods/NAME/log?follow=true&timestamps=true`) across dropped connections without a
 * gap or a duplicate: every line carries the kubelet's timestamp; a reconnect asks from `sinceTime` (whole
 * seconds: the API takes no fraction there) and skips what it already gave, by timestamp and, for lines that
 * share one, by how many of them it gave. Kubernetes merges stdout and stderr into one log: lines are given
 * as stdout (docs/kubernetes.md).
 */
import type { Readable } from 'node:stream';
import type { PlaceOutput } from './place.js';
import { sinceTimeOf, timestampKey } from './kubernetes-objects.js';

/** How far the log was given: the last timestamp, and how many lines with exactly it. */
export interface LogPosition {
  readonly key: string;
  readonly n: number;
}

export interface LogSource {
  /** Opens the log; rejects with `status` set when the API answers with an error (404: no such pod). */
  open(sinceTime: string | null, follow: boolean): Promise<Readable>;
  /** The container has ended (or its pod is gone): what the log holds is all there will be. */
  over(): Promise<boolean>;
}

const MAX_LINE = 64 * 1024;

export class LogFollower {
  private pos: LogPosition | null;
  private seenAtKey = 0;
  private stopped = false;
  private current: Readable | null = null;
  /** Reconnections after a cut (for people and tests). */
  reconnects = 0;

  constructor(
    private readonly source: LogSource,
    private readonly out: PlaceOutput,
    from: LogPosition | null,
    private readonly onPosition: (p: LogPosition) => void = () => {},
  ) {
    this.pos = from;
  }

  get position(): LogPosition | null {
    return this.pos;
  }

  stop(): void {
    this.stopped = true;
    this.current?.destroy();
  }

  /** Until the container ended and its whole log was given (or stop()). Never rejects. */
  async run(): Promise<void> {
    let delay = 200;
    while (!this.stopped) {
      let cut = false;
      try {
        const body = await this.source.open(this.pos ? sinceTimeOf(this.pos.key) : null, true);
        cut = !(await this.consume(body, false));
      } catch (err) {
        const status = (err as { status?: number }).status;
        // 400: the container is not running yet ("waiting to start"); 404: the pod is gone.
        cut = status !== 404;
      }
      if (this.stopped) return;
      if (await this.source.over().catch(() => false)) {
        // Whatever the followed stream missed before the container ended.
        try {
          await this.consume(await this.source.open(this.pos ? sinceTimeOf(this.pos.key) : null, false), true);
        } catch {
          // the pod is gone: nothing more to read
        }
        return;
      }
      if (cut) this.reconnects++;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(5000, delay * 2);
    }
  }

  /** Gives the new lines of one response; true when it ended cleanly. `last`: an unfinished last line is given too. */
  private async consume(body: Readable, last: boolean): Promise<boolean> {
    this.current = body;
    this.seenAtKey = 0;
    let rest = '';
    let clean = true;
    const give = async (raw: readonly string[]) => {
      const lines: string[] = [];
      for (const l of raw) {
        const sp = l.indexOf(' ');
        const key = sp > 0 ? timestampKey(l.slice(0, sp)) : null;
        if (key === null) {
          lines.push(l);
          continue;
        }
        if (this.accept(key)) lines.push(l.slice(sp + 1));
      }
      if (lines.length > 0) {
        this.out.onLines('stdout', lines);
        if (this.pos) this.onPosition(this.pos);
        if (this.out.pace) await this.out.pace();
      }
    };
    try {
      for await (const chunk of body) {
        if (this.stopped) break;
        const text = rest + (Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
        const parts = text.split('\n');
        rest = parts.pop() ?? '';
        // A line that never ends is given in pieces (each piece its own line).
        if (rest.length > MAX_LINE) {
          parts.push(rest);
          rest = '';
        }
        await give(parts);
      }
    } catch {
      clean = false;
    } finally {
      this.current = null;
    }
    // An unfinished line is read again after a cut; at the very end it is the attempt's last words.
    if (last && rest) await give([rest]);
    return clean;
  }

  private accept(key: string): boolean {
    if (!this.pos || key > this.pos.key) {
      this.pos = { key, n: 1 };
      this.seenAtKey = 1;
      return true;
    }
    if (key < this.pos.key) return false;
    this.seenAtKey++;
    if (this.seenAtKey > this.pos.n) {
      this.pos = { key, n: this.pos.n + 1 };
      return true;
    }
    return false;
  }
}
