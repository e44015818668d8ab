/**
 * Finding processes a test run left behind. tools/test.mjs puts a marker with a fresh id in the environment
 * of everything it starts (the PostgreSQL server, `node --test` and so every test file and whatever those
 * start, since children inherit their parent's environment); after the run, any live process whose
 * environment still carries that marker outlived the tests.
 *
 * The marker does not start with KAIROS_: workers pass their own environment on to jobs without KAIROS_*
 * variables (src/worker/attempt.ts), and a job a test forgot must be found too. A process started with an
 * environment of its own (not inherited) cannot be seen this way.
 */
import { readdirSync, readFileSync } from 'node:fs';

export const MARKER = 'KAIROSTEST_RUN';

/** Live (not zombie) processes other than this one whose environment has MARKER=id: [{pid, cmd}]. */
export function markedProcesses(id) {
  const needle = Buffer.from(`${MARKER}=${id}\0`);
  const found = [];
  let entries = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found; // no /proc: nothing can be checked here
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`);
      if (!(env.indexOf(needle) === 0 || env.indexOf(Buffer.concat([Buffer.from('\0'), needle])) >= 0)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat[stat.lastIndexOf(')') + 2] === 'Z') continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      found.push({ pid: Number(name), cmd });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/**
 * Waits up to `graceMs` for marked processes to end on their own (a test may have just signalled one), then
 * kills what is left with SIGKILL and returns it.
 */
export async function reapLeaks(id, graceMs) {
  const deadline = Date.now() + graceMs;
  let left = markedProcesses(id);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    left = markedProcesses(id);
  }
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // ended just now
    }
  }
  return left;
}
