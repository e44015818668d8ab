/**
 * docs/benchmarks.md is shared by every benchmark: each owns one section between markers and replaces only
 * that, so running one benchmark never erases another's figures.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from '../src/store/db.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const HEADER = `# Benchmarks

Each benchmark measures its own baseline in the same run on the same machine, so ratios are what to compare
across machines. Raw figures of the last run are in \`bench/results*.json\`.
`;

/** Replaces (or appends) the section owned by `id` in docs/benchmarks.md. */
export function writeDocSection(id: string, markdown: string): void {
  const begin = `<!-- ${id}: begin -->`;
  const end = `<!-- ${id}: end -->`;
  const file = join(ROOT, 'docs', 'benchmarks.md');
  const md = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  const section = `${begin}\n${markdown.replace(/\n*$/, '\n')}${end}\n`;
  const s = md.indexOf(begin);
  const e = md.indexOf(end);
  const next = s >= 0 && e > s ? md.slice(0, s) + section + md.slice(e + end.length + 1) : md.replace(/\n*$/, '\n\n') + section;
  writeFileSync(file, next);
}

/** Writes a benchmark's raw results to bench/<name>. */
export function writeResults(name: string, results: unknown): void {
  mkdirSync(join(ROOT, 'bench'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', name), JSON.stringify(results, null, 2) + '\n');
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

export function median(values: readonly number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

/** Waits until a server started by the benchmark answers; fails with its output if it exits or takes over `tries` × 50 ms. */
export async function waitForServer(health: () => Promise<unknown>, exited: () => boolean, output: () => string, what: string, tries = 300): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await health();
      return;
    } catch (err) {
      if (i > tries || exited()) throw new Error(`${what} did not start: ${output() || String(err)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Queued → claimed and queued → process started (ms, sorted) of the given runs, from the control plane's stamps. */
export async function dispatchLatencies(db: Db, ids: readonly string[]): Promise<{ dispatch: number[]; claim: number[] }> {
  const dispatch: number[] = [];
  const claim: number[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db.kysely
      .selectFrom('runs')
      .innerJoin('attempts', 'attempts.run_id', 'runs.id')
      .select(['runs.created_at', 'attempts.claimed_at', 'attempts.started_at'])
      .where('runs.id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const r of rows) {
      dispatch.push(Number(r.started_at) - Number(r.created_at));
      claim.push(Number(r.claimed_at) - Number(r.created_at));
    }
  }
  dispatch.sort((a, b) => a - b);
  claim.sort((a, b) => a - b);
  return { dispatch, claim };
}
