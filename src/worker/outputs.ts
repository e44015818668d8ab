/**
 * An attempt's outputs: where they live (one directory for artifacts, one file for metrics, under
 * <data>/attempts), the metrics the job wrote, and the artifacts it left, each with its size and SHA-256.
 * Artifacts are hashed as streams: the worker's event loop also sends heartbeats and ships logs, and reading
 * a large artifact whole (or hashing it in one synchronous call) would hold them up.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { coerceError } from '../model/errors.js';
import type { Artifact, Metric } from '../protocol/worker.js';

export function attemptPaths(dataDir: string, runId: string, attempt: number): { artifacts: string; output: string } {
  const base = join(dataDir, 'attempts', `${runId}.${attempt}`);
  return { artifacts: base, output: `${base}.output.jsonl` };
}

/** Metrics are JSON lines `{"name": ..., "value": ..., "step": ...}`; a malformed line is reported (`warn`), not fatal. */
export function readMetrics(file: string, warn: (line: string) => void): Metric[] {
  // Most jobs report no metrics: look without throwing (an exception per run costs more than the look). A
  // sandboxed job's file exists (the sandbox puts it back writable), most often empty.
  const st = statSync(file, { throwIfNoEntry: false });
  if (!st || st.size === 0) return [];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const metrics: Metric[] = [];
  const now = Date.now();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    try {
      const v = JSON.parse(line) as { name?: unknown; value?: unknown; step?: unknown };
      if (typeof v.name !== 'string' || v.name === '' || typeof v.value !== 'number' || !Number.isFinite(v.value)) throw new Error('expected {"name": string, "value": number, "step"?: integer}');
      const step = typeof v.step === 'number' && Number.isInteger(v.step) ? v.step : null;
      metrics.push({ name: v.name.slice(0, 200), value: v.value, step, ts: now });
    } catch (err) {
      warn(`[kairos] KAIROS_OUTPUT line ${i + 1} ignored: ${coerceError(err).message}`);
    }
  });
  return metrics;
}

/** SHA-256 and size of a file, read as a stream. */
async function hashFile(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(createReadStream(file), async function* (chunks: AsyncIterable<Buffer>) {
    for await (const chunk of chunks) {
      size += chunk.length;
      hash.update(chunk);
    }
    yield* [];
  });
  return { size, sha256: hash.digest('hex') };
}

/** Every regular file under `dir` (links are not followed), in path order, hashed. */
export async function listArtifacts(dir: string): Promise<Artifact[]> {
  const out: Artifact[] = [];
  async function walk(d: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const abs = join(d, name);
      const st = await lstat(abs);
      if (st.isDirectory()) await walk(abs);
      else if (st.isFile()) out.push({ path: relative(dir, abs), ...(await hashFile(abs)) });
    }
  }
  await walk(dir);
  return out;
}
