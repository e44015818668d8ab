// The client side of one workload, shared by the Node.js peers (BullMQ, graphile-worker): submits runs the way
// the workload says, waits until the peer says every run is done, and prints one JSON line of results.
//   mode seq:  N runs, one client, each submission awaited before the next
//   mode par:  N runs, 16 concurrent submitters
//   mode rate: N runs at RATE per second; each submission's client time is reported for the latency figure
export async function drive({ mode, n, rate, submit, pending, close }) {
  const submitted = [];
  const t0 = performance.now();
  if (mode === 'seq') {
    for (let i = 0; i < n; i++) await submit(i);
  } else if (mode === 'par') {
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < n) await submit(next++);
    }));
  } else if (mode === 'rate') {
    const start = Date.now();
    const inflight = [];
    for (let i = 0; i < n; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      submitted.push([i, Date.now()]);
      inflight.push(submit(i));
    }
    await Promise.all(inflight);
  } else throw new Error(`unknown mode ${mode}`);
  while ((await pending()) > 0) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - t0) / 1000;
  await close();
  process.stdout.write(JSON.stringify({ seconds, submitted }) + '\n');
}

export function args() {
  const [mode, n, rate, ...rest] = process.argv.slice(2);
  return { mode, n: Number(n), rate: Number(rate), rest };
}
