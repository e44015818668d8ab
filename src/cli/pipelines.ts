/**
 * Pipelines on the command line (docs/pipelines.md): `kairos pipelines`, and the pipeline side of `kairos run`,
 * `kairos runs --pipeline`, `kairos cancel`, `kairos rerun --from-failed` and `kairos backfill`.
 */
import type { KairosClient } from '../api/client.js';
import type { Answer } from '../api/contract/index.js';
import type { API } from '../api/contract/index.js';
import { ApiError } from '../api/client.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { colorState, EXIT, Failure, shortTime, table, UsageError, type Io } from './output.js';

export type PipelineRunDetail = Answer<typeof API.pipelines.get>;

/** The project of pipeline `name` (the one given, or the only one that has it), or null when it is no pipeline. */
export async function pipelineProject(client: KairosClient, name: string, project: string | undefined): Promise<string | null> {
  const { pipelines } = await client.pipelines(project);
  const matches = pipelines.filter((p) => p.name === name);
  if (matches.length === 0) return null;
  if (matches.length > 1) throw new UsageError(`pipeline "${name}" exists in several projects (${matches.map((m) => m.project).join(', ')}); name one with --project`);
  return matches[0]?.project ?? null;
}

/** One line per step: its state, and for a fan-out the counts of its items. */
export function stepLines(pr: PipelineRunDetail, tty: boolean): string[] {
  return pr.steps.map((s) => {
    const counts = s.map === null ? '' : ` (${s.total} items: ${Object.entries(s.counts).map(([k, v]) => `${v} ${k}`).join(', ') || 'none yet'})`;
    const run = s.map === null && s.runs[0] ? ` ${s.runs[0].run_id}` : '';
    return `  ${s.step.padEnd(16)} ${colorState(s.state, tty)}${counts}${run}`;
  });
}

/** Starts a pipeline run and follows it to its end: exit 0 when it succeeded, 1 otherwise. */
export async function runPipeline(client: KairosClient, project: string, name: string, params: Record<string, string>, io: Io, opts: { detach: boolean; json: boolean }): Promise<number> {
  let pr = await client.startPipeline(project, name, params);
  if (opts.detach) {
    io.out(opts.json ? JSON.stringify(pr, null, 2) + '\n' : `${pr.id}\n`);
    return EXIT.ok;
  }
  io.err(`kairos: pipeline run ${pr.id} (${project}/${name}) started\n`);
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    io.err(`\nkairos: cancelling pipeline run ${pr.id} (Ctrl-C again to stop waiting)\n`);
    client.cancelPipelineRun(pr.id).catch((err: unknown) => io.err(`kairos: cancel failed: ${String(err)}\n`));
  };
  process.on('SIGINT', onSigint);
  const said = new Map<string, string>();
  try {
    for (;;) {
      for (const s of pr.steps) {
        const key = `${s.state} ${JSON.stringify(s.counts)}`;
        if (said.get(s.step) === key || s.state === 'pending') continue;
        said.set(s.step, key);
        const counts = s.map === null ? '' : ` (${Object.entries(s.counts).map(([k, v]) => `${v}/${s.total} ${k}`).join(', ')})`;
        io.err(`kairos: step ${s.step} ${s.state}${counts}\n`);
      }
      if (pr.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 500));
      pr = await client.pipelineRun(pr.id);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (opts.json) io.out(JSON.stringify(pr, null, 2) + '\n');
  io.err(`kairos: pipeline run ${pr.id} ${pr.state}${pr.reason && pr.state !== 'succeeded' ? `: ${pr.reason}` : ''}\n`);
  return pr.state === 'succeeded' ? EXIT.ok : interrupted ? 130 : EXIT.failed;
}

/** `kairos runs --pipeline NAME`: its pipeline runs, newest first, each with its steps. */
export async function listPipelineRunsCli(client: KairosClient, io: Io, q: { pipeline: string; project?: string; state?: string; limit: number; json: boolean }): Promise<void> {
  const { pipeline_runs } = await client.pipelineRuns({ pipeline: q.pipeline, ...(q.project ? { project: q.project } : {}), ...(q.state ? { state: q.state } : {}), limit: q.limit });
  const details: PipelineRunDetail[] = [];
  for (const r of pipeline_runs) details.push(await client.pipelineRun(r.id));
  if (q.json) {
    io.out(JSON.stringify(details, null, 2) + '\n');
    return;
  }
  if (details.length === 0) {
    io.err(`no runs of pipeline ${q.pipeline}\n`);
    return;
  }
  for (const d of details) {
    io.out(table(['ID', 'PIPELINE', 'STATE', 'TRIGGER', 'SCHEDULED FOR', 'CREATED'], [[d.id, d.pipeline, colorState(d.state, io.tty), d.trigger, shortTime(d.scheduled_for), shortTime(d.created_at)]]));
    io.out(stepLines(d, io.tty).join('\n') + '\n');
  }
}

/** A pipeline run id given to `cancel`/`rerun`: its action, or null when the id is no pipeline run. */
export async function onPipelineRun<T>(client: KairosClient, id: string, call: (id: string) => Promise<T>): Promise<T | null> {
  try {
    await client.pipelineRun(id);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
  return call(id);
}

export const pipelinesCommand: Command = {
  name: 'pipelines',
  summary: 'pipelines with their steps, next fire time and last run',
  usage: 'pipelines [--project P] [--json]',
  options: { project: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(p, { io, client }) {
    const { pipelines } = await client(p).pipelines(stringOption(p.values.project));
    if (p.globals.json) {
      io.out(JSON.stringify(pipelines, null, 2) + '\n');
      return;
    }
    if (pipelines.length === 0) {
      io.err('no pipelines\n');
      return;
    }
    io.out(
      table(
        ['PROJECT', 'PIPELINE', 'STEPS', 'SCHEDULE', 'NEXT', 'LAST RUN'],
        pipelines.map((x) => [
          x.project,
          x.name,
          x.steps.map((s) => (s.map ? `${s.name}[${s.map}]` : s.name)).join(' '),
          x.schedule ? `${x.schedule.cron} ${x.schedule.timezone}${x.schedule.paused ? ' (paused)' : ''}` : '-',
          x.schedule?.next_fire_at ? shortTime(x.schedule.next_fire_at) : '-',
          x.last_run ? `${x.last_run.id} ${colorState(x.last_run.state, io.tty)}` : '-',
        ]),
      ),
    );
  },
};

export function noPipelineRun(id: string, server: string): never {
  throw new Failure(`no pipeline run "${id}" on ${server} (\`kairos runs --pipeline NAME\` lists them)`);
}
