/** Printing log lines the same way for `kairos run` and `kairos logs`. */
import type { LogLineView } from '../api/views.js';
import { inert, type Io } from './output.js';

export function printLine(l: Pick<LogLineView, 'stream' | 'line'>, io: Io): void {
  if (l.stream === 'stdout') io.out((io.tty ? inert(l.line) : l.line) + '\n');
  else if (l.stream === 'stderr') io.err((io.errTty ? inert(l.line) : l.line) + '\n');
  else io.err((io.errTty ? `\u001b[2m${inert(l.line)}\u001b[0m` : l.line) + '\n');
}
