/**
 * Notebook jobs on the worker's side: the argv that runs Kairos' notebook driver (./driver.py) with the job
 * environment's `python3`, and what the driver left about how the notebook ended. The driver goes as the
 * text of `python3 -c`, so it needs no file on the machine that runs it (a sandbox, a Slurm node); its
 * settings go as one JSON argument. Nothing passes through a shell.
 */
import { readFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NotebookRun, ParamSpec, ParamValue, RunCommand } from '../../model/job.js';

/** The driver's source, shipped with the package (package.json `files`). */
export const NOTEBOOK_DRIVER = fileURLToPath(new URL('../../../../src/worker/notebook/driver.py', import.meta.url));

let driverText: string | null = null;
function driverSource(): string {
  driverText ??= readFileSync(NOTEBOOK_DRIVER, 'utf8');
  return driverText;
}

/** The driver's exit code when the notebook cannot run at all (no nbclient, unreadable notebook, no such kernel). */
export const NOTEBOOK_CANNOT_RUN = 3;

export interface NotebookCommandOptions {
  /** The project's files (the deployment's bundle, or the project directory for `kairos check`). */
  readonly projectDir: string;
  /** The job's param specs and the run's values (defaults applied). */
  readonly specs: Readonly<Record<string, ParamSpec>>;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly cellTimeoutMs: number | null;
  /** KAIROS_ARTIFACTS: the executed notebook and its HTML go there. */
  readonly artifactsDir: string;
  /** Where the driver writes how the notebook ended (see `readNotebookResult`). */
  readonly resultFile: string;
}

/** The driver's settings: typed values (JSON), turned into Python literals by the driver with repr(). */
export function notebookCommand(run: NotebookRun, o: NotebookCommandOptions): RunCommand {
  const params = Object.entries(o.params)
    .filter(([name]) => o.specs[name] !== undefined)
    .map(([name, value]) => ({ name, type: o.specs[name]?.type ?? 'string', value }));
  const spec = {
    notebook: join(o.projectDir, run.notebook),
    display: run.notebook,
    kernel: run.kernel,
    cell_timeout: o.cellTimeoutMs === null ? null : o.cellTimeoutMs / 1000,
    params,
    artifacts: o.artifactsDir,
    result: o.resultFile,
  };
  // `python3` is looked up in the job's PATH: a python environment's own interpreter comes first there.
  return { kind: 'argv', argv: ['python3', '-u', '-c', driverSource(), JSON.stringify(spec)] };
}

/** Where the driver of an attempt writes how its notebook ended: beside the attempt's output file. */
export function notebookResultFile(outputFile: string): string {
  return outputFile.replace(/\.output\.jsonl$/, '') + '.notebook.json';
}

export interface NotebookResult {
  /** e.g. `cell 6 failed: ZeroDivisionError: division by zero`. */
  readonly reason: string;
  /** The failing cell's position (from 1) in the executed notebook, when a cell failed. */
  readonly cell: number | null;
}

/** What the driver wrote (and the file removed); null when it wrote nothing (the notebook ran through). */
export async function readNotebookResult(file: string): Promise<NotebookResult | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  } finally {
    await rm(file, { force: true }).catch(() => undefined);
  }
  try {
    const v = JSON.parse(text) as { reason?: unknown; cell?: unknown };
    if (typeof v.reason !== 'string' || v.reason === '') return null;
    return { reason: `notebook: ${v.reason.slice(0, 500)}`, cell: typeof v.cell === 'number' ? v.cell : null };
  } catch {
    return null;
  }
}
