/**
 * Lets the event loop run its timers and I/O once a loop has held it for `everyMs`. A reader catching up on a
 * large backlog with synchronous reads, awaiting only promises that are already resolved, never gives it back
 * otherwise: the worker's heartbeats waited behind a job's gigabyte of output until its lease expired.
 */
let last = performance.now();

export function breathe(everyMs = 10): Promise<void> | null {
  if (performance.now() - last < everyMs) return null;
  return new Promise((resolve) =>
    setImmediate(() => {
      last = performance.now();
      resolve();
    }),
  );
}
