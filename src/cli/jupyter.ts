/**
 * `kairos jupyter`: a Jupyter server as a service (the built-in job `jupyter`, or `jupyter-<env>` with
 * `--env`; src/model/builtin-jobs.ts) on a worker that offers the resources asked for, reachable through
 * the server. Prints its URL once it is up and stops it (cancels the run) on Ctrl-C.
 */
import { API } from '../api/contract/index.js';
import { jupyterJobName } from '../model/builtin-jobs.js';
import { isTerminal, type RunState } from '../model/run-state.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { EXIT, UsageError } from './output.js';
import { RESOURCE_OPTIONS, RESOURCE_USAGE, resourceOptions } from './place-options.js';

const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

export const jupyterCommand: Command = {
  name: 'jupyter',
  summary: "start a Jupyter server in the project's environment as a service, print its URL once it is up; Ctrl-C stops it",
  usage: `jupyter [--env NAME] [--project P] ${RESOURCE_USAGE} [--pool NAME] [--json]`,
  options: { env: { type: 'string' }, project: { type: 'string' }, ...RESOURCE_OPTIONS, pool: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(p, { io, client: mk }) {
    const client = mk(p);
    const env = stringOption(p.values.env);
    if (env !== undefined && !NAME.test(env)) throw new UsageError(`--env must be an environment name, got "${env}"`);
    const pool = stringOption(p.values.pool);
    if (pool !== undefined && !NAME.test(pool)) throw new UsageError(`--pool must be a pool name, got "${pool}"`);
    const r = resourceOptions(p);
    const over = { ...(r.cpu !== undefined ? { cpu: r.cpu } : {}), ...(r.memoryBytes !== undefined ? { memory_bytes: r.memoryBytes } : {}), ...(r.gpu !== undefined ? { gpu: r.gpu } : {}), ...(pool !== undefined ? { pool } : {}) };
    const job = jupyterJobName(env ?? null);
    const project = stringOption(p.values.project);

    // One Jupyter per job and project: a second would take the first one's path.
    const active = (await client.listRuns({ job, state: 'queued,running', limit: 5, ...(project ? { project } : {}) })).runs;
    if (active.length > 0) {
      const a = active[0]!;
      io.err(`kairos: ${a.project}/${job} is already ${a.state} (run ${a.id}): ${p.globals.server.replace(/\/+$/, '')}/services/${a.project}/${job}/ ; stop it with \`kairos cancel ${a.id}\`\n`);
      return EXIT.failed;
    }
    const run = await client.createRun(job, {}, project, over);
    const base = `${p.globals.server.replace(/\/+$/, '')}/services/${run.project}/${job}/`;
    io.err(`kairos: run ${run.id} (${run.project}/${job}) ${run.state}${run.waiting_reason ? `; waiting: ${run.waiting_reason}` : ''}; Ctrl-C stops it\n`);

    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      io.err(`\nkairos: stopping Jupyter (cancelling run ${run.id})\n`);
      client.cancelRun(run.id).catch((err: unknown) => io.err(`kairos: cancel failed: ${String(err)}\n`));
    };
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    for (const s of signals) process.on(s, stop);
    try {
      let said = false;
      for (;;) {
        const now = await client.getRun(run.id, said ? 30 : 0);
        if (isTerminal(now.state as RunState)) {
          io.err(`kairos: run ${now.id} ${now.state}${now.reason ? `: ${now.reason}` : ''}\n`);
          if (!said && !stopping) io.err(`kairos: its log: kairos logs ${now.id}\n`);
          return stopping || now.state === 'succeeded' ? EXIT.ok : EXIT.failed;
        }
        if (!said) {
          const up = (await client.call(API.services.list, { query: { project: run.project } })).services.find((s) => s.job === job && s.run_id === run.id && s.state === 'up');
          if (up) {
            said = true;
            const ticket = await client.call(API.services.session, { params: { project: run.project, job }, body: {} }).catch(() => null);
            const browser = ticket ? `${p.globals.server.replace(/\/+$/, '')}${ticket.path}` : null;
            if (p.globals.json) io.out(JSON.stringify({ run_id: run.id, project: run.project, job, url: base, browser_url: browser }) + '\n');
            else {
              io.out(`${base}\n`);
              io.err(`kairos: Jupyter is up at ${base} (send your Kairos token as "Authorization: Bearer"${browser ? `, or open ${browser} in a browser within ${ticket?.expires_in_s ?? 60} s` : ''})\n`);
            }
            continue;
          }
          await new Promise((res) => setTimeout(res, 500));
        }
      }
    } finally {
      for (const s of signals) process.off(s, stop);
    }
  },
};
