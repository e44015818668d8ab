import type { KairosClient } from '../api/client.js';
import type { RunView } from '../api/views.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { printLine } from './logs-print.js';
import { startProgress } from './progress.js';
import { paramsHelp } from './job-params.js';
import { coerceError } from '../model/errors.js';
import { EXIT, UsageError, type Io } from './output.js';
import { RESOURCE_OPTIONS, RESOURCE_USAGE, resourceOptions } from './place-options.js';
import { pipelineProject, runPipeline } from './pipelines.js';

/** `-p NAME=VALUE` pairs; a value is a string, typed by the job's parameter spec on the server. */
export function parseParamPairs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`-p expects NAME=VALUE, got "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** The exit status `kairos run` ends with: the job's own exit code where there is one. */
export function exitCodeOf(run: RunView, interrupted: boolean): number {
  if (run.state === 'succeeded') return EXIT.ok;
  if (run.state === 'cancelled') return interrupted ? 130 : EXIT.failed;
  if (run.state === 'failed' && run.exit_code !== null && run.exit_code > 0 && run.exit_code < 256) return run.exit_code;
  return EXIT.failed;
}

export async function followToEnd(client: KairosClient, run: RunView, io: Io, signal?: AbortSignal): Promise<RunView> {
  const waiting = startProgress(io, `run ${run.id} is ${run.state}; waiting for its output`);
  try {
    for await (const ev of client.followLogs(run.id, 0, signal)) {
      waiting.done();
      if (ev.type === 'line') printLine(ev, io);
    }
  } finally {
    waiting.done();
  }
  return client.getRun(run.id);
}

export const runCommand: Command = {
  name: 'run',
  summary: "start an ad-hoc run, stream its log, exit with the job's exit code (Ctrl-C cancels it)",
  usage: `run JOB|PIPELINE [-p NAME=VALUE]... [--project P] ${RESOURCE_USAGE} [--pool NAME] [--detach] [--json]`,
  options: { param: { type: 'string', short: 'p', multiple: true }, project: { type: 'string' }, detach: { type: 'boolean' }, ...RESOURCE_OPTIONS, pool: { type: 'string' } },
  positionals: { min: 1, max: 1 },
  async moreHelp(p, { client: mk }) {
    const name = p.positionals[0];
    if (!name) return 'give a job to see its parameters: kairos run JOB --help (`kairos jobs` lists jobs)\n';
    const project = stringOption(p.values.project);
    let jobs;
    try {
      jobs = (await mk(p).jobs(project)).jobs;
    } catch (err) {
      return `the parameters of ${name} come from the server, and ${p.globals.server} did not answer: ${coerceError(err).message}\n`;
    }
    const matches = jobs.filter((j) => j.name === name);
    if (matches.length === 0) return `no job "${name}"${project ? ` in project ${project}` : ''} on ${p.globals.server}; jobs: ${[...new Set(jobs.map((j) => j.name))].join(', ') || '(none)'}\n`;
    return matches.map(paramsHelp).join('\n');
  },
  async run(p, { io, client: mk }) {
    const client = mk(p);
    const params = parseParamPairs((p.values.param as string[] | undefined) ?? []);
    const r = resourceOptions(p);
    const pool = stringOption(p.values.pool);
    if (pool !== undefined && !/^[A-Za-z][A-Za-z0-9_-]{0,62}$/.test(pool)) throw new UsageError(`--pool must be a pool name, got "${pool}"`);
    const over = { ...(r.cpu !== undefined ? { cpu: r.cpu } : {}), ...(r.memoryBytes !== undefined ? { memory_bytes: r.memoryBytes } : {}), ...(r.gpu !== undefined ? { gpu: r.gpu } : {}), ...(pool !== undefined ? { pool } : {}) };
    const name = p.positionals[0] ?? '';
    // A pipeline's name starts a pipeline run (docs/pipelines.md); a job of the same name cannot exist.
    const jobs = (await client.jobs(stringOption(p.values.project)).catch(() => ({ jobs: [] as { name: string }[] }))).jobs;
    if (!jobs.some((j) => j.name === name)) {
      const project = await pipelineProject(client, name, stringOption(p.values.project));
      if (project !== null) return runPipeline(client, project, name, params, io, { detach: p.values.detach === true, json: p.globals.json });
    }
    const run = await client.createRun(name, params, stringOption(p.values.project), over);
    if (p.values.detach === true) {
      io.out(p.globals.json ? JSON.stringify(run, null, 2) + '\n' : `${run.id}\n`);
      return EXIT.ok;
    }
    io.err(`kairos: run ${run.id} (${run.project}/${run.job}) queued${run.waiting_reason ? `; waiting: ${run.waiting_reason}` : ''}\n`);
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      io.err(`\nkairos: cancelling run ${run.id} (Ctrl-C again to stop waiting)\n`);
      client.cancelRun(run.id).catch((err: unknown) => io.err(`kairos: cancel failed: ${String(err)}\n`));
    };
    process.on('SIGINT', onSigint);
    try {
      const final = await followToEnd(client, run, io);
      if (p.globals.json) io.out(JSON.stringify(final, null, 2) + '\n');
      const why = final.reason ? `: ${final.reason}` : '';
      io.err(`kairos: run ${final.id} ${final.state}${final.state === 'succeeded' ? '' : why}\n`);
      return exitCodeOf(final, interrupted);
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
