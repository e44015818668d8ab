/**
 * `kairos check` for notebook jobs (`run: {notebook}`): the notebook is there, inside the project, is a
 * notebook (JSON, nbformat 4), and has a cell tagged `parameters` when the job has params, whose names must
 * also be Python variable names. Each problem is reported where the manifest names the notebook
 * (`FILE:LINE:COL: jobs.<job>.run.notebook: …`).
 */
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { formatProblem, MANIFEST_FILE_NAME } from '../manifest/index.js';
import { readYaml } from '../manifest/yaml-source.js';
import type { CompiledJob, CompiledManifest, NotebookRun } from '../model/job.js';
import type { Check } from './types.js';

/** Python's keywords: a param named so cannot be assigned in the injected cell (`from = ...` is a SyntaxError). */
const PYTHON_KEYWORDS = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield'.split(' '),
);

/** What is wrong with the notebook of `job`, or null. */
async function notebookProblem(projectDir: string, job: CompiledJob, run: NotebookRun): Promise<string | null> {
  const file = path.join(projectDir, run.notebook);
  let text: string;
  try {
    // Through links too: a notebook must stay inside the project (only the project's files are deployed).
    const real = await realpath(file);
    const root = await realpath(projectDir);
    if (real !== root && !real.startsWith(root + path.sep)) return `notebook ${run.notebook} is a link that leaves the project directory`;
    text = await readFile(real, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? err.code : '';
    if (code === 'ENOENT') return `notebook ${run.notebook} not found in the project directory`;
    if (code === 'EISDIR') return `notebook ${run.notebook} is a directory, not a .ipynb file`;
    return `cannot read notebook ${run.notebook}: ${err instanceof Error ? err.message : String(err)}`;
  }
  let nb: unknown;
  try {
    nb = JSON.parse(text);
  } catch (err) {
    return `notebook ${run.notebook} is not valid JSON (${err instanceof Error ? err.message : String(err)}): is it a notebook saved by Jupyter?`;
  }
  if (typeof nb !== 'object' || nb === null || Array.isArray(nb)) return `notebook ${run.notebook} is not a notebook: expected a JSON object with "cells" and "nbformat"`;
  const doc = nb as { nbformat?: unknown; cells?: unknown };
  if (typeof doc.nbformat !== 'number' || doc.nbformat < 4) {
    return `notebook ${run.notebook} is not in nbformat 4 (found ${doc.nbformat === undefined ? 'no "nbformat"' : `nbformat ${JSON.stringify(doc.nbformat)}`}): open and save it with a current Jupyter`;
  }
  if (!Array.isArray(doc.cells)) return `notebook ${run.notebook} has no "cells" list`;
  const names = Object.keys(job.params);
  if (names.length === 0) return null;
  const bad = names.filter((n) => PYTHON_KEYWORDS.has(n));
  if (bad.length > 0) return `param${bad.length === 1 ? '' : 's'} ${bad.join(', ')} cannot be a Python variable (a keyword): rename ${bad.length === 1 ? 'it' : 'them'}`;
  const tagged = doc.cells.some((c: unknown) => {
    const tags = (c as { metadata?: { tags?: unknown } } | null)?.metadata?.tags;
    return Array.isArray(tags) && tags.includes('parameters');
  });
  if (!tagged) {
    return `notebook ${run.notebook} has no cell tagged "parameters", and job ${job.name} has params (${names.join(', ')}): tag the cell that sets their defaults (in Jupyter: View → Cell Toolbar → Tags)`;
  }
  return null;
}

/** One check a notebook job; none when no job runs a notebook. */
export async function notebookChecks(manifest: CompiledManifest, projectDir: string): Promise<Check[]> {
  const jobs = Object.values(manifest.jobs).filter((j) => j.run.kind === 'notebook');
  if (jobs.length === 0) return [];
  const file = path.join(projectDir, MANIFEST_FILE_NAME);
  // Positions for the problems: the manifest compiled already, so it reads.
  const source = readYaml(await readFile(file, 'utf8').catch(() => ''), file);
  const checks: Check[] = [];
  for (const job of jobs) {
    if (job.run.kind !== 'notebook') continue;
    const name = `notebook ${job.name}`;
    const problem = await notebookProblem(projectDir, job, job.run);
    if (problem === null) {
      checks.push({ group: 'configuration', name, status: 'pass', message: `${job.run.notebook}${Object.keys(job.params).length > 0 ? ', parameters cell found' : ''}` });
      continue;
    }
    const at = ['jobs', job.name, 'run', 'notebook'];
    const { line, col } = source.position(at, 'value');
    checks.push({ group: 'configuration', name, status: 'fail', message: problem, details: [formatProblem({ file, line, col, path: at.join('.'), code: 'invalid_value', message: problem })] });
  }
  return checks;
}
