/**
 * Progress for anything that takes more than a second: a spinner with the elapsed time on a terminal, one
 * line otherwise. Nothing is shown for what finishes within the second.
 */
import type { Io } from './output.js';

export interface Progress {
  update(text: string): void;
  done(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function startProgress(io: Io, text: string, afterMs = 1000): Progress {
  let label = text;
  let shown = false;
  let frame = 0;
  const t0 = Date.now();
  let ticker: NodeJS.Timeout | null = null;
  const draw = () => {
    const secs = ((Date.now() - t0) / 1000).toFixed(0);
    io.err(`\r\u001b[2K${FRAMES[frame++ % FRAMES.length]} ${label} (${secs}s)`);
  };
  const starter = setTimeout(() => {
    shown = true;
    if (io.errTty) {
      draw();
      ticker = setInterval(draw, 100);
      ticker.unref();
    } else {
      io.err(`kairos: ${label}…\n`);
    }
  }, afterMs);
  starter.unref();
  return {
    update(t) {
      label = t;
    },
    done() {
      clearTimeout(starter);
      if (ticker) clearInterval(ticker);
      if (shown && io.errTty) io.err('\r\u001b[2K');
      shown = false;
    },
  };
}
