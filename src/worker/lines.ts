/**
 * Turning a process's byte streams into log lines: split on newlines, decode UTF-8 safely (invalid bytes
 * become U+FFFD, never an exception), split over-long lines instead of dropping them.
 */
import { StringDecoder } from 'node:string_decoder';

export const MAX_LINE_CHARS = 16 * 1024;

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  /** `more`: the piece was cut from an over-long line that goes on in the next piece (masking needs to know). */
  constructor(private readonly emit: (line: string, more: boolean) => void) {}

  push(chunk: Buffer): void {
    const text = this.partial + this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.emitLine(text.slice(start, nl));
      start = nl + 1;
    }
    this.partial = text.slice(start);
    while (this.partial.length > MAX_LINE_CHARS) {
      this.emit(this.partial.slice(0, MAX_LINE_CHARS), true);
      this.partial = this.partial.slice(MAX_LINE_CHARS);
    }
  }

  /** The stream ended: a last line without a newline is still a line. */
  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest.length > 0) this.emitLine(rest);
  }

  private emitLine(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    for (let i = 0; i < line.length || i === 0; i += MAX_LINE_CHARS) {
      this.emit(line.slice(i, i + MAX_LINE_CHARS), i + MAX_LINE_CHARS < line.length);
      if (line.length === 0) break;
    }
  }
}
