import { RUN_STATE_LIST } from '../model/run-state.js';
import { intOption, stringOption } from './args.js';
import type { Command } from './command.js';
import { colorState, durationBetween, shortTime, table, UsageError } from './output.js';
import { listPipelineRunsCli } from './pipelines.js';

export const runsCommand: Command = {
  name: 'runs',
  summary: 'run history, newest first',
  usage: 'runs [--job J | --pipeline P] [--state S] [--trigger T] [--project P] [--limit N] [--json]',
  options: { pipeline: { type: 'string' }, job: { type: 'string' }, state: { type: 'string' }, trigger: { type: 'string' }, project: { type: 'string' }, limit: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(p, { io, client }) {
    const state = stringOption(p.values.state);
    const pipeline = stringOption(p.values.pipeline);
    if (pipeline !== undefined) {
      if (p.values.job !== undefined) throw new UsageError('--job and --pipeline do not go together');
      const limit = intOption(p.values.limit, 'limit', 1, 1000) ?? 10;
      await listPipelineRunsCli(client(p), io, { pipeline, ...(stringOption(p.values.project) ? { project: stringOption(p.values.project) } : {}), ...(state ? { state } : {}), limit, json: p.globals.json });
      return;
    }
    for (const s of state?.split(',') ?? []) {
      if (!(RUN_STATE_LIST as readonly string[]).includes(s)) throw new UsageError(`unknown state "${s}"; states: ${RUN_STATE_LIST.join(', ')}`);
    }
    const limit = intOption(p.values.limit, 'limit', 1, 1000) ?? 20;
    const { runs } = await client(p).listRuns({ job: stringOption(p.values.job), state, trigger: stringOption(p.values.trigger), project: stringOption(p.values.project), limit });
    if (p.globals.json) {
      io.out(JSON.stringify(runs, null, 2) + '\n');
      return;
    }
    if (runs.length === 0) {
      io.err('no runs\n');
      return;
    }
    io.out(
      table(
        ['ID', 'JOB', 'STATE', 'TRIGGER', 'ATTEMPT', 'SCHEDULED FOR', 'CREATED', 'DURATION', 'EXIT'],
        runs.map((r) => [r.id, r.job, colorState(r.state, io.tty), r.trigger, String(r.attempt), shortTime(r.scheduled_for), shortTime(r.created_at), r.started_at ? durationBetween(r.started_at, r.finished_at) : '-', r.exit_code === null ? '-' : String(r.exit_code)]),
      ),
    );
    // Queued runs that no live worker of their pool can take, and why.
    for (const r of runs) if (r.waiting_reason) io.out(`${r.id} waits: ${r.waiting_reason}\n`);
  },
};
